"""Where a track is split before denoising: whole-body jumps and long detection gaps.

A person's track in a detector's file can jump to someone else (a tracker switching people, a re-detection
far away) or stop for many frames. Smoothing across such a place blends two people or invents a path, so
`denoise` cuts the track there (`track_breaks`) and denoises the pieces (`segments`) independently.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TrackBreak:
    """A place where a track is split instead of being smoothed across."""

    index: int  # first index (into the track's arrays) of the new segment
    frame: int  # its frame number
    reason: str  # "jump": the whole body moved too far; "gap": too many frames without a detection
    amount: float  # jump: median joint displacement / body size; gap: frames without a detection


def track_breaks(
    frames: np.ndarray, keypoints: np.ndarray, present: np.ndarray, jump: float = 0.5, max_gap: int = 10
) -> list[TrackBreak]:
    """Where a track should be split: whole-body jumps and long detection gaps.

    frames (T,) int, keypoints (T, K, 2), present (T, K) bool. Consecutive detected frames (>= 2 present
    joints) are compared: a jump is a median displacement of the joints present in both, or of the box
    centres if fewer than 3 are shared, above `jump` x the body size (the longer side of the present
    joints' box, mean of the two frames). A person's limbs rarely move half a body length between two
    frames; a tracker switching to someone else, or a re-detection far away, moves all of them at once.
    A gap is more than `max_gap` frames without a detection.
    """
    frames = np.asarray(frames)
    keypoints = np.asarray(keypoints, dtype=np.float64)
    present = np.asarray(present, dtype=bool)
    detected = np.flatnonzero(present.sum(axis=1) >= 2)
    a, b = detected[:-1], detected[1:]  # each pair of consecutive detected frames, over arrays
    missing = frames[b] - frames[a] - 1  # (N,)
    gap = missing > max_gap
    # the longer side of the present joints' box, per frame (the same arithmetic as per pair of frames)
    pts = present[..., None]  # (T, K, 1)
    lo = np.where(pts, keypoints, np.inf).min(axis=1)  # (T, 2); inf where nothing is present
    hi = np.where(pts, keypoints, -np.inf).max(axis=1)
    side = np.zeros(len(frames))
    side[detected] = (hi[detected] - lo[detected]).max(axis=1)
    size = (side[a] + side[b]) / 2  # (N,)
    both = present[a] & present[b]  # (N, K)
    shared = both.sum(axis=1)
    # median displacement of the joints present in both frames: sort with the others last (inf), then
    # take the middle one or the mean of the middle two, as np.median does
    step = np.linalg.norm(keypoints[b] - keypoints[a], axis=-1)  # (N, K)
    ranked = np.sort(np.where(both, step, np.inf), axis=1)
    rows = np.arange(len(a))
    low_mid = ranked[rows, np.maximum(shared - 1, 0) // 2]
    high_mid = ranked[rows, np.minimum(shared // 2, ranked.shape[1] - 1)]
    median = (low_mid + high_mid) / 2
    with np.errstate(invalid="ignore"):
        centre = (hi + lo) / 2  # (T, 2) box centres; NaN in frames without a detection
    centre_step = np.zeros(len(a))
    for i in np.flatnonzero(shared < 3):  # few: frames sharing fewer than 3 joints
        # the norm of one vector (a dot product), to the last bit what a pair-by-pair loop gives
        centre_step[i] = np.linalg.norm(centre[b[i]] - centre[a[i]])
    moved = np.where(shared >= 3, median, centre_step)
    with np.errstate(invalid="ignore", divide="ignore"):
        jumped = ~gap & (size > 0) & (moved > jump * size)
        amount = np.where(gap, missing, moved / np.where(size > 0, size, 1.0))
    return [
        TrackBreak(int(b[i]), int(frames[b[i]]), "gap" if gap[i] else "jump", float(amount[i]))
        for i in np.flatnonzero(gap | jumped)
    ]


def segments(length: int, breaks: list[TrackBreak]) -> list[tuple[int, int]]:
    """Index ranges [start, stop) of the pieces a track of `length` frames is split into."""
    cuts = [0] + sorted(b.index for b in breaks) + [length]
    return [(s, e) for s, e in zip(cuts[:-1], cuts[1:], strict=True) if e > s]


__all__ = ["TrackBreak", "segments", "track_breaks"]
