"""Pose geometry shared by the dataset writer (`prepare`) and denoising (`denoise`): each frame's square
crop onto the model's grid, and the torso diameter that PCK thresholds scale with.
"""

from __future__ import annotations

import numpy as np

from posedenoise.constants import GRID
from posedenoise.layout import LEFT_HIP, LEFT_SHOULDER, RIGHT_HIP, RIGHT_SHOULDER


def crop_to_grid(
    coords: np.ndarray, present: np.ndarray, margin: float = 0.1, size: int = GRID
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Map each frame's present joints onto the size x size grid.

    coords (T, K, 2) pixels, present (T, K) bool. The box is the min/max of the present joints, made
    square about its centre, each side then grown outward by `margin` of the side length.
    Returns grid coords (T, K, 2) float32 in [0, size-1] (zero where not present), boxes (T, 3) float64 =
    (x0, y0, side) with grid = (px - (x0, y0)) / side * (size - 1), and keep (T,) bool: at least two
    present joints and a box of positive size.
    """
    coords = np.asarray(coords, dtype=np.float64)
    present = np.asarray(present, dtype=bool)
    xy_lo = np.where(present[..., None], coords, np.inf).min(axis=1)  # (T, 2)
    xy_hi = np.where(present[..., None], coords, -np.inf).max(axis=1)  # (T, 2)
    enough = present.sum(axis=1) >= 2
    with np.errstate(invalid="ignore"):
        side = (xy_hi - xy_lo).max(axis=1)  # (T,)
        centre = (xy_hi + xy_lo) / 2
    keep = enough & np.isfinite(side) & (side > 1e-6)
    side = np.where(keep, side * (1 + 2 * margin), 1.0)
    origin = np.where(keep[:, None], centre - side[:, None] / 2, 0.0)  # (T, 2)
    grid = (coords - origin[:, None, :]) / side[:, None, None] * (size - 1)
    grid = np.where(present[..., None] & keep[:, None, None], grid, 0.0).astype(np.float32)
    boxes = np.concatenate([origin, side[:, None]], axis=1)
    return grid, boxes, keep


def torso_diameter(grid: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(T,) mean of |l_shoulder - l_hip| and |r_shoulder - r_hip|; NaN when any of the four is missing."""
    left = np.linalg.norm(grid[..., LEFT_SHOULDER, :] - grid[..., LEFT_HIP, :], axis=-1)
    right = np.linalg.norm(grid[..., RIGHT_SHOULDER, :] - grid[..., RIGHT_HIP, :], axis=-1)
    defined = present[..., [LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_HIP, RIGHT_HIP]].all(axis=-1)
    return np.where(defined, (left + right) / 2, np.nan).astype(np.float32)


__all__ = ["crop_to_grid", "torso_diameter"]
