"""Heatmap rendering and decoding, batched on any torch device.

A heatmap is a delta of height `peak` at the rounded joint position, smoothed by a Gaussian filter with
`mode="nearest"` borders. Such a filtered delta is separable: `scipy.ndimage.gaussian_filter` filters
rows and then columns, and a delta is the outer product of two 1-D deltas, so the map equals
`peak * gy[:, None] * gx[None, :]` where `gx` is the 1-D filtered delta at x. The 1-D profiles of every
position are tabulated once per (sigma, size) by running scipy itself on the identity matrix, which makes
the borders (where `nearest` folds kernel mass back onto the edge pixel) exact by construction. Rendering
is then two table gathers and one broadcast multiply: no per-map Python loop.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from posedenoise.constants import GRID

TRUNCATE = 4.0  # scipy's default, and skimage.filters.gaussian's, which the reference code used


@functools.lru_cache(maxsize=64)
def _profile_table_np(sigma: float, size: int) -> np.ndarray:
    """(size, size) float64: row p is the 1-D Gaussian-filtered unit delta at position p."""
    return gaussian_filter1d(np.eye(size), sigma, axis=1, mode="nearest", truncate=TRUNCATE)


_TABLE_CACHE: dict[tuple, torch.Tensor] = {}


def _profile_tables(sigmas: tuple[float, ...], size: int, device: torch.device) -> torch.Tensor:
    """(S * size, size) float32 on `device`: the stacked profile tables of `sigmas`."""
    key = (sigmas, size, str(device))
    table = _TABLE_CACHE.get(key)
    if table is None:
        stacked = np.concatenate([_profile_table_np(float(s), size) for s in sigmas])
        table = torch.from_numpy(stacked.astype(np.float32)).to(device)
        if len(_TABLE_CACHE) > 256:
            _TABLE_CACHE.clear()
        _TABLE_CACHE[key] = table
    return table


def render(
    coords: torch.Tensor,
    present: torch.Tensor,
    sigma: float | torch.Tensor,
    size: int = GRID,
    peak: float = 255.0,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Draw one heatmap per joint.

    coords  (..., K, 2) float (x, y) grid pixels; rounded to the nearest pixel (half to even, as numpy)
            and clipped to the grid.
    present (..., K) bool; a missing joint gets an all-zero map.
    sigma   a float, or a tensor broadcastable to `(...)` (one sigma per frame, e.g. `(B, 1)` per window).
    out     optional preallocated `(..., K, size, size)` float32 buffer to write into (saves the page
            faults of a fresh 50 MB allocation per training batch).
    Returns (..., K, size, size) float32, equal to `scipy.ndimage.gaussian_filter(delta, sigma,
    mode="nearest")` of a float delta of height `peak`, to float32 precision.
    """
    coords = torch.as_tensor(coords)
    present = torch.as_tensor(present, device=coords.device)
    device = coords.device
    lead = coords.shape[:-2]  # (...)
    k = coords.shape[-2]
    pos = coords.round().clamp_(0, size - 1).long()  # (..., K, 2)

    if isinstance(sigma, torch.Tensor) and sigma.numel() > 1:
        sigma_b = torch.broadcast_to(sigma.to(device), lead)  # (...)
        values, inverse = torch.unique(sigma_b, return_inverse=True)
        sigmas = tuple(float(v) for v in values.cpu())
        row0 = (inverse * size).unsqueeze(-1)  # (..., 1): offset of this frame's sigma table
    else:
        sigmas = (float(sigma),)
        row0 = torch.zeros((), dtype=torch.long, device=device)
    table = _profile_tables(sigmas, size, device)  # (S * size, size)

    gx = table[row0 + pos[..., 0]]  # (..., K, size)
    gy = table[row0 + pos[..., 1]]  # (..., K, size)
    gy = gy * (present.to(gy.dtype) * peak).unsqueeze(-1)  # fold mask and peak into the small factor
    shape = (*lead, k, size, size)
    if out is None:
        out = torch.empty(shape, dtype=torch.float32, device=device)
    elif out.shape != shape:
        raise ValueError(f"out has shape {tuple(out.shape)}, expected {shape}")
    torch.mul(gy.unsqueeze(-1), gx.unsqueeze(-2), out=out)  # (..., K, size, size)
    return out


def argmax(heatmaps: torch.Tensor) -> torch.Tensor:
    """(..., K, H, W) heatmaps -> (..., K, 2) float32 (x, y) of each map's maximum (first on ties)."""
    heatmaps = torch.as_tensor(heatmaps)
    w = heatmaps.shape[-1]
    flat = heatmaps.flatten(-2).argmax(dim=-1)  # (..., K)
    return torch.stack([flat % w, torch.div(flat, w, rounding_mode="floor")], dim=-1).to(torch.float32)


# ----------------------------------------------------------------------------- sub-pixel (real tracks)
# The chapter draws a joint at its rounded position and reads it back by argmax: on a person 900 pixels
# tall one grid pixel is ~16 image pixels, so the round trip alone costs ~6 pixels. For real tracks the
# input maps are drawn at the float position and the output is read below the grid pixel.


def render_subpixel(
    coords: torch.Tensor, present: torch.Tensor, sigma: float, size: int = GRID, peak: float = 255.0
) -> torch.Tensor:
    """Like `render`, with the Gaussian centred at the float position (no rounding): (..., K, size, size).

    The map is `peak` times the product of two sampled 1-D Gaussians, each scaled to the sum of a 1-D
    Gaussian over the grid (1 / (sigma sqrt(2 pi))), so away from the border its height matches `render`'s
    to within a fraction of a percent whatever the sub-pixel offset.
    """
    coords = torch.as_tensor(coords, dtype=torch.float32)
    present = torch.as_tensor(present, device=coords.device)
    grid = torch.arange(size, dtype=torch.float32, device=coords.device)
    pos = coords.clamp(0, size - 1)  # (..., K, 2)
    norm = 1.0 / (sigma * (2 * np.pi) ** 0.5)
    g = torch.exp(-0.5 * ((grid - pos.unsqueeze(-1)) / sigma) ** 2) * norm  # (..., K, 2, size)
    gx, gy = g[..., 0, :], g[..., 1, :]
    gy = gy * (present.to(gy.dtype) * peak).unsqueeze(-1)
    return gy.unsqueeze(-1) * gx.unsqueeze(-2)  # (..., K, size, size)


def argmax_subpixel(heatmaps: torch.Tensor) -> torch.Tensor:
    """(..., K, H, W) -> (..., K, 2) float32 (x, y): the argmax refined by a parabola through the logarithm
    of the maximum and its two neighbours along each axis (exact for a sampled Gaussian; the offset is
    kept within half a pixel). A map without a positive maximum decodes to its plain argmax."""
    heatmaps = torch.as_tensor(heatmaps).float()
    h, w = heatmaps.shape[-2:]
    coarse = argmax(heatmaps)  # (..., K, 2)
    x, y = coarse[..., 0].long(), coarse[..., 1].long()
    flat = heatmaps.flatten(-2)  # (..., K, H * W)

    def at(dx: int, dy: int) -> torch.Tensor:
        xx, yy = (x + dx).clamp(0, w - 1), (y + dy).clamp(0, h - 1)
        return flat.gather(-1, (yy * w + xx).unsqueeze(-1)).squeeze(-1)

    tiny = 1e-12
    centre = at(0, 0)

    def offset(lo: torch.Tensor, hi: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
        l0, l1, l2 = lo.clamp_min(tiny).log(), centre.clamp_min(tiny).log(), hi.clamp_min(tiny).log()
        curvature = l0 - 2 * l1 + l2
        ok = inside & (centre > tiny) & (lo > tiny) & (hi > tiny) & (curvature < 0)
        d = 0.5 * (l0 - l2) / torch.where(ok, curvature, torch.ones_like(curvature))
        return torch.where(ok, d.clamp(-0.5, 0.5), torch.zeros_like(d))

    dx = offset(at(-1, 0), at(1, 0), (x > 0) & (x < w - 1))
    dy = offset(at(0, -1), at(0, 1), (y > 0) & (y < h - 1))
    return torch.stack([coarse[..., 0] + dx, coarse[..., 1] + dy], dim=-1)
