"""Left/right swap repair without a model: swap a pair back when that fits the motion much better.

Detectors swap a person's left and right: the whole body for a few frames (MediaPipe when the person is
seen from behind or the side), or the legs alone as they cross (OpenPose). A smoother then averages the
two sides into a body that does not exist, and a learned denoiser may or may not undo it. This step runs
before either.

For each group of left/right pairs (the arms with the hands, the legs with the feet, the shoulders and
hips, the head), every frame is either *as detected* or *swapped*: detectors invert a limb chain alone
(OpenPose's crossing legs) or the whole body (every group at once). The repaired sequence is the one of
least cost by dynamic programming (Viterbi) over the frames of the track:

    cost = sum over consecutive frames of the distance the group's joints move (px, over joints present in
           both) + `penalty` x body size x pairs, for each frame taken as swapped.

Keeping a swap costs the two jumps into and out of it (each about twice the left-right distance per
pair); repairing it costs the penalty on each swapped frame. So a swap is undone only when the other
assignment moves the joints much less, and a person who turns round (the sides cross slowly, through a
profile view where left and right are close) is left alone. Pairs are found by name (`left`/`right`), so
any layout with named sides works; unnamed keypoints have no pairs and are left as they are. Pairs closer
together than the jitter (the eyes of a distant person) give too little evidence and stay as detected.
A file written back keeps its scores where they were read; only the coordinates move.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

# Group of a left/right joint by its name; anything else named left/right (eyes, ears, mouth) is the head.
GROUP_PATTERNS: tuple[tuple[str, re.Pattern], ...] = (
    ("legs", re.compile(r"knee|ankle|heel|toe|foot")),
    ("arms", re.compile(r"elbow|wrist|hand|pinky|index|thumb|finger")),
    ("torso", re.compile(r"shoulder|hip")),
)
PENALTY = 0.05  # per swapped frame, per pair, as a fraction of the body size


@dataclass(frozen=True)
class SwapGroup:
    """Left/right pairs that swap together."""

    name: str  # "head", "torso", "arms" or "legs"
    left: np.ndarray  # (P,) keypoint indices of the left sides
    right: np.ndarray  # (P,) their right partners


def swap_groups(names: tuple[str, ...] | list[str]) -> list[SwapGroup]:
    """The left/right pairs of a layout by name, in groups that swap together."""
    index = {n: i for i, n in enumerate(names)}
    pairs: dict[str, list[tuple[int, int]]] = {"head": [], "torso": [], "arms": [], "legs": []}
    for i, name in enumerate(names):
        if "left" not in name:
            continue
        partner = index.get(name.replace("left", "right"))
        if partner is None:
            continue
        group = next((g for g, pattern in GROUP_PATTERNS if pattern.search(name)), "head")
        pairs[group].append((i, partner))
    return [
        SwapGroup(g, np.array([a for a, _ in p], dtype=np.int64), np.array([b for _, b in p], dtype=np.int64))
        for g, p in pairs.items()
        if p
    ]


def _body_size(keypoints: np.ndarray, present: np.ndarray) -> float:
    """Median over frames of the longer side of the box of the present joints (px)."""
    sizes = []
    for xy, ok in zip(keypoints, present, strict=True):
        if ok.sum() >= 2:
            pts = xy[ok]
            sizes.append(float((pts.max(axis=0) - pts.min(axis=0)).max()))
    return float(np.median(sizes)) if sizes else 0.0


def repair_swaps(
    keypoints: np.ndarray, present: np.ndarray, names: tuple[str, ...] | list[str], penalty: float = PENALTY
) -> tuple[np.ndarray, np.ndarray]:
    """Undo left/right swaps in one person's track.

    keypoints (T, K, 2) of consecutive detections (frames without a detection left out), present (T, K)
    bool. Returns the repaired keypoints and (T, G) bool: frames where group g (of `swap_groups(names)`)
    was swapped back. Scores travel with their joints only through `swap_scores` (the caller's arrays).
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    present = np.asarray(present, dtype=bool)
    groups = swap_groups(names)
    t = len(keypoints)
    swapped = np.zeros((t, len(groups)), dtype=bool)
    out = keypoints.copy()
    size = _body_size(keypoints, present)
    if t < 2 or size <= 0:
        return out, swapped
    for g, group in enumerate(groups):
        joints = np.concatenate([group.left, group.right])  # (2P,)
        flipped = np.concatenate([group.right, group.left])
        pos = np.stack([keypoints[:, joints], keypoints[:, flipped]], axis=1)  # (T, 2 states, 2P, 2)
        # a pair counts between two frames only if both its sides are seen in both, so that every
        # assignment is measured on the same joints (otherwise swapping could hide a joint's motion)
        whole = present[:, group.left] & present[:, group.right]  # (T, P)
        counted = np.tile(whole[1:] & whole[:-1], 2)  # (T-1, 2P)
        # move[t, a, b]: distance moved from frame t-1 in state b to frame t in state a
        diff = np.linalg.norm(pos[1:, :, None] - pos[:-1, None, :], axis=-1)  # (T-1, 2, 2, 2P)
        move = np.where(counted[:, None, None], np.nan_to_num(diff), 0.0).sum(axis=-1)  # (T-1, 2, 2)
        pairs_seen = whole.sum(axis=1)  # (T,)
        state_cost = np.stack([np.zeros(t), penalty * size * pairs_seen], axis=1)  # (T, 2)
        total = state_cost[0].copy()
        back = np.zeros((t, 2), dtype=np.int64)
        for k in range(1, t):
            options = total[None, :] + move[k - 1]  # (2 now, 2 before)
            back[k] = options.argmin(axis=1)
            total = options.min(axis=1) + state_cost[k]
        state = np.zeros(t, dtype=np.int64)
        state[-1] = int(total.argmin())
        for k in range(t - 1, 0, -1):
            state[k - 1] = back[k, state[k]]
        rows = np.flatnonzero(state == 1)
        if len(rows):
            out[rows[:, None], joints[None, :]] = keypoints[rows[:, None], flipped[None, :]]
        swapped[:, g] = state == 1
    return out, swapped


def swap_back(values: np.ndarray, swapped: np.ndarray, names: tuple[str, ...] | list[str]) -> np.ndarray:
    """Apply the swaps `repair_swaps` found to another (T, K, ...) array of the same joints (e.g. scores)."""
    out = np.array(values, copy=True)
    for g, group in enumerate(swap_groups(names)):
        rows = np.flatnonzero(swapped[:, g])
        if len(rows):
            joints = np.concatenate([group.left, group.right])
            flipped = np.concatenate([group.right, group.left])
            out[rows[:, None], joints[None, :]] = values[rows[:, None], flipped[None, :]]
    return out


__all__ = ["PENALTY", "SwapGroup", "repair_swaps", "swap_back", "swap_groups"]
