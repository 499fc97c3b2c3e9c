"""Long tracks in bounded memory: a finite-window filter run over a track a piece at a time.

A person followed through an hour of video is 100,000 detections. Denoised whole, such a track holds some
twenty (T, K, 2) float64 arrays at once (the keypoints, the gap filling's indices and weights, the filter's
input and output, masks), 25 MB each for COCO-17 at that length. But the Gaussian and Savitzky-Golay
filters read only a few frames either side of a frame (`filters.context_frames`), the gap filling only the
nearest detection of a joint either side of a gap, and the track breaks and the jitter only neighbouring
detections. So a long track is read, denoised and written `PIECE` frames at a time, each piece with that
many frames of context and with, for each joint, the detections just outside the context that its gaps
are filled towards. Every number is the one the whole track gives (the same arithmetic on the same values),
except the jitter sums, which add the same terms in another order.

Held for the whole track: its frame numbers, where each detection is in the file, and which joints are
present (8 + 8 + K bytes per detection, 33 for COCO-17, against 400 for its keypoints and scores).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from posedenoise import filters
from posedenoise.breaks import TrackBreak, segments, track_breaks
from posedenoise.streaming import TrackOnDisk
from posedenoise.tracks import PersonTrack

PIECE = 4096  # frames of a track denoised at a time, beside their context
LONG = 2 * PIECE  # detections: a longer track is denoised in pieces, a shorter one whole
PIECE_FILTERS = ("gaussian", "savgol")  # finite windows: what `filters.context_frames` can bound
_NO_LEFT = -(1 << 40)  # no detection of the joint before (fill_gaps: -1); far below any frame
_NO_RIGHT = 1 << 40  # none after (fill_gaps: t)


@dataclass
class PiecesResult:
    """What denoising one long track did, for `denoise.DenoiseSummary` (its fields of the same names)."""

    splits: list[TrackBreak] = field(default_factory=list)
    segments: int = 0
    short_segments: list[tuple[int, int]] = field(default_factory=list)  # (first frame, last frame)
    missing_joints: int = 0
    filled_joints: int = 0
    changed_records: int = 0
    jitter_before: tuple[float, int] = (0.0, 0)  # (sum, count), as `filters.jitter`
    jitter_after: tuple[float, int] = (0.0, 0)


def can_run_in_pieces(filter: str | None, params: dict[str, Any], fps: float) -> bool:
    """Whether `denoise_in_pieces` gives exactly what the whole track gives for this filter."""
    if filter not in PIECE_FILTERS:
        return False
    context = filters.context_frames(filter, params, fps)
    return context is not None and context <= PIECE


def fill_gaps_between(
    x: np.ndarray, left: tuple[np.ndarray, np.ndarray], right: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """`smoothers.fill_gaps` of a part of a series, given each series' nearest finite samples outside it.

    x (L, K, 2) with NaN where missing; left = (positions (K,), values (K, 2)) of the last finite sample
    of each joint before the part (positions below 0, relative to x[0]; `_NO_LEFT` where there is none),
    right the same for the first one after it (positions from L; `_NO_RIGHT`). Returns the filled part,
    equal to the same rows of `fill_gaps` of the whole series to the last bit (the same formula on the same
    integer distances), and (L, K) bool: whether each sample lies between two finite samples of its joint.
    Written here because `fill_gaps` sees only the array it is given.
    """
    t = x.shape[0]
    valid = np.isfinite(x)
    index = np.arange(t).reshape(t, 1, 1)
    left_pos = left[0].reshape(1, -1, 1)
    right_pos = right[0].reshape(1, -1, 1)
    prev = np.maximum.accumulate(np.where(valid, index, left_pos), axis=0)
    nxt = np.flip(np.minimum.accumulate(np.flip(np.where(valid, index, right_pos), axis=0), axis=0), axis=0)
    has_prev, has_next = prev != _NO_LEFT, nxt != _NO_RIGHT
    x_prev = np.where(prev >= 0, np.take_along_axis(x, np.clip(prev, 0, t - 1), axis=0), left[1][None])
    x_next = np.where(nxt < t, np.take_along_axis(x, np.clip(nxt, 0, t - 1), axis=0), right[1][None])
    both = has_prev & has_next
    span = np.where(both, nxt - prev, 1)
    weight = np.where(both, (index - prev) / np.maximum(span, 1), 0.0)
    between = x_prev + weight * (x_next - x_prev)
    out = np.where(both, between, np.where(has_prev, x_prev, x_next))
    return np.where(valid, x, out), both[..., 0]


def _nearest_present(present: np.ndarray, start: int, stop: int, forward: bool) -> np.ndarray:
    """(K,) row of the first (forward) or last present detection of each joint in rows [start, stop),
    -1 where none. Looks at growing blocks from the near end: usually a joint is seen again soon."""
    k = present.shape[1]
    found = np.full(k, -1, dtype=np.int64)
    block, lo, hi = 64, start, stop
    while lo < hi and (found < 0).any():
        if forward:
            a, b = lo, min(hi, lo + block)
            lo = b
        else:
            a, b = max(lo, hi - block), hi
            hi = a
        part = present[a:b]
        seen = part.any(axis=0) & (found < 0)
        if seen.any():
            first = part.argmax(axis=0) if forward else len(part) - 1 - part[::-1].argmax(axis=0)
            found[seen] = a + first[seen]
        block *= 2
    return found


def _anchors(
    track: TrackOnDisk, present: np.ndarray, rows: np.ndarray, origin: int, none: int
) -> tuple[np.ndarray, np.ndarray]:
    """(positions relative to frame `origin`, (K, 2) values) of the detections `rows` (one per joint, -1:
    none) of each joint."""
    k = present.shape[1]
    positions = np.full(k, none, dtype=np.int64)
    values = np.full((k, 2), np.nan)
    has = rows >= 0
    if has.any():
        unique, inverse = np.unique(rows[has], return_inverse=True)
        keypoints, _ = track.read(unique)  # (U, K, 2)
        joints = np.flatnonzero(has)
        values[joints] = keypoints[inverse, joints]
        positions[joints] = track.frames[rows[joints]] - origin
    return positions, values


def denoise_in_pieces(
    track: TrackOnDisk,
    filter: str,
    params: dict[str, Any],
    fps: float,
    *,
    min_score: float,
    fill_missing: bool,
    jump: float,
    max_gap: int,
    handled: np.ndarray,
    min_frames: int,
    advance: Callable[[int], None] | None = None,
) -> PiecesResult:
    """Denoise a track left on disk with `filter` (resolved `params`), as `denoise.denoise_file` does a
    whole track (breaks, segments too short to smooth, missing joints filled between detections), writing
    its new keypoints back piece by piece. `handled` (K,) bool: joints counted in the jitter and the
    missing joints. `advance(n)` is called as n more detections are done."""
    result = PiecesResult()
    frames = track.frames
    t, k = len(track), track.num_keypoints
    context = filters.context_frames(filter, params, fps)
    # 1. which joints are present, and the breaks, from neighbouring detections (the last detected one of
    # the previous piece carried over)
    present = np.zeros((t, k), dtype=bool)
    breaks: list[TrackBreak] = []
    carry: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # frame, keypoints, present (1 row)
    for lo in range(0, t, PIECE):
        hi = min(t, lo + PIECE)
        keypoints, scores = track.read(slice(lo, hi))
        part = PersonTrack(track.track_id, frames[lo:hi], keypoints, scores, track.records[lo:hi])
        present[lo:hi] = part.present(min_score)
        if carry is None:
            found = track_breaks(frames[lo:hi], keypoints, present[lo:hi], jump=jump, max_gap=max_gap)
            offset = lo
        else:
            found = track_breaks(
                np.concatenate([carry[0], frames[lo:hi]]),
                np.concatenate([carry[1], keypoints]),
                np.concatenate([carry[2], present[lo:hi]]),
                jump=jump,
                max_gap=max_gap,
            )
            offset = lo - 1
        breaks.extend(TrackBreak(b.index + offset, b.frame, b.reason, b.amount) for b in found)
        detected = np.flatnonzero(present[lo:hi].sum(axis=1) >= 2)
        if len(detected):
            j = int(detected[-1])
            carry = (frames[lo + j : lo + j + 1], keypoints[j : j + 1], present[lo + j : lo + j + 1])
    result.splits = breaks
    pieces_of_track = segments(t, breaks)
    result.segments = len(pieces_of_track)
    result.missing_joints = int((~present[:, handled]).sum())
    starts = np.array([b.index for b in breaks], dtype=np.int64)
    smoothable = []
    for s, e in pieces_of_track:
        first, last = int(frames[s]), int(frames[e - 1])
        if last - first + 1 < min_frames:
            result.short_segments.append((first, last))
        else:
            smoothable.append((s, e))

    # 2. each piece: its keypoints as read, the estimates of the segments it overlaps, written back
    jitter_in, jitter_out = [0.0, 0], [0.0, 0]
    tail: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # the last 2 detections: frames, in, out
    lo = 0
    while lo < t:
        hi = lo + int(np.searchsorted(frames[lo : lo + PIECE], frames[lo] + PIECE, side="left"))
        source, _ = track.read(slice(lo, hi))  # (n, K, 2)
        out = source.copy()
        for s, e in smoothable:
            u, v = max(s, lo), min(e, hi)
            if u >= v:
                continue
            new, between = _estimate(track, present, filter, params, fps, context, s, e, u, v)
            allowed = present[u:v] | (fill_missing & between)
            new = np.where(allowed[..., None], new, np.nan)
            update = np.isfinite(new).all(axis=-1)  # (v - u, K)
            piece = out[u - lo : v - lo]
            piece[update] = new[update]
            result.filled_joints += int((update & ~present[u:v]).sum())
            changed = (piece != source[u - lo : v - lo]) & np.isfinite(piece)
            result.changed_records += int(changed.any(axis=(1, 2)).sum())
        track.write(slice(lo, hi), out)
        # jitter over triples of detections, the two before the piece carried over
        kept = (frames[lo:hi], source[:, handled], out[:, handled])
        if tail is not None:
            kept = tuple(np.concatenate([a, b]) for a, b in zip(tail, kept, strict=True))
        first_row = hi - len(kept[0])
        local = (starts[(starts > first_row) & (starts < hi)] - first_row).tolist()
        for acc, values in ((jitter_in, kept[1]), (jitter_out, kept[2])):
            total, count = filters.jitter(kept[0], values, local)
            acc[0] += total
            acc[1] += count
        tail = tuple(a[-2:] for a in kept)
        if advance is not None:
            advance(hi - lo)
        lo = hi
    result.jitter_before = (jitter_in[0], jitter_in[1])
    result.jitter_after = (jitter_out[0], jitter_out[1])
    return result


def _estimate(
    track: TrackOnDisk,
    present: np.ndarray,
    filter: str,
    params: dict[str, Any],
    fps: float,
    context: int,
    s: int,
    e: int,
    u: int,
    v: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The filter's (v - u, K, 2) values at detections [u, v) of the segment [s, e), and (v - u, K) bool:
    between two detections of the joint in the segment; as the whole segment gives them."""
    frames = track.frames
    origin = max(int(frames[s]), int(frames[u]) - context)  # first frame of the part read
    end = min(int(frames[e - 1]), int(frames[v - 1]) + context)  # its last frame
    a = s + int(np.searchsorted(frames[s:e], origin, side="left"))
    b = s + int(np.searchsorted(frames[s:e], end, side="right"))
    keypoints, _ = track.read(slice(a, b))
    seen = np.where(present[a:b, :, None], keypoints, np.nan)
    dense = np.full((end - origin + 1, track.num_keypoints, 2), np.nan)  # (L, K, 2) every frame
    pos = frames[a:b] - origin
    dense[pos] = seen
    left = _anchors(track, present, _nearest_present(present, s, a, forward=False), origin, _NO_LEFT)
    right = _anchors(track, present, _nearest_present(present, b, e, forward=True), origin, _NO_RIGHT)
    filled, between = fill_gaps_between(dense, left, right)
    empty = ~np.isfinite(filled)  # joints never detected in the segment
    filled = np.where(empty, 0.0, filled)
    length = int(frames[e - 1] - frames[s]) + 1  # the whole segment's frames
    smoothed = np.where(empty, np.nan, filters.smooth_filled(filter, filled, fps, params, length))
    core = frames[u:v] - origin
    return smoothed[core], between[core]


__all__ = ["LONG", "PIECE", "PiecesResult", "can_run_in_pieces", "denoise_in_pieces", "fill_gaps_between"]
