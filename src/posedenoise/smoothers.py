"""Classic temporal smoothers: the baselines a learned denoiser has to beat.

Contract: `x` is a float array with time on `axis` (default 0), e.g. a track `(T, K, C)` or a batch of
windows `(T, B, K, C)`; every other position is an independent series. The result has the shape of `x`.

Missing samples are NaN. They are filled by linear interpolation along time (held constant before the
first and after the last finite sample) before filtering, so a gap neither poisons its neighbours nor
stops the filter; afterwards they are NaN again unless `fill=True`. A series with no finite sample stays
NaN.

- `one_euro`: the One Euro filter (Casiez, Roussel and Vogel, CHI 2012), causal: an adaptive low-pass
  whose cutoff grows with the speed, so slow motion is smoothed hard and fast motion lags little. Its
  `beta` is per unit of speed, so it depends on the coordinate scale (pixels vs. heatmap grid).
- `savgol`: Savitzky-Golay (local polynomial fit, `scipy.signal.savgol_filter`), centred.
- `gaussian`: Gaussian kernel (`scipy.ndimage.gaussian_filter1d`), centred, `nearest` edges.

The defaults fit the chapter's 5-frame windows (the report runs every smoother on exactly the test
windows the models see): the Savitzky-Golay window is 5 and shrinks to the series length when shorter.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import gaussian_filter1d

from posedenoise.errors import PoseDenoiseError

SMOOTHERS: tuple[str, ...] = ("oneeuro", "savgol", "gaussian")
# The tunable parameters of each (keyword arguments of `smooth`).
SMOOTHER_PARAMS: dict[str, tuple[str, ...]] = {
    "oneeuro": ("min_cutoff", "beta", "d_cutoff"),
    "savgol": ("window", "polyorder"),
    "gaussian": ("sigma",),
}
GAUSSIAN_TRUNCATE = 4.0  # scipy's default kernel radius in sigmas


def fill_gaps(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """Linearly interpolate NaN samples along `axis`; hold the edge values outside the finite range.

    Vectorised over all series (the report smooths hundreds of thousands of windows at once).
    """
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, 0)  # (T, ...)
    valid = np.isfinite(x)
    if valid.all() or x.shape[0] == 0:
        return np.moveaxis(x.copy(), 0, axis)
    t = x.shape[0]
    index = np.arange(t).reshape((t,) + (1,) * (x.ndim - 1))
    # Index of the last finite sample at or before t, and of the first at or after t (-1 / t: none).
    prev = np.maximum.accumulate(np.where(valid, index, -1), axis=0)
    nxt = np.flip(np.minimum.accumulate(np.flip(np.where(valid, index, t), axis=0), axis=0), axis=0)
    has_prev, has_next = prev >= 0, nxt < t
    x_prev = np.take_along_axis(x, np.clip(prev, 0, t - 1), axis=0)
    x_next = np.take_along_axis(x, np.clip(nxt, 0, t - 1), axis=0)
    span = np.where(has_prev & has_next, nxt - prev, 1)
    weight = np.where(has_prev & has_next, (index - prev) / np.maximum(span, 1), 0.0)
    between = x_prev + weight * (x_next - x_prev)
    out = np.where(has_prev & has_next, between, np.where(has_prev, x_prev, x_next))
    out = np.where(valid, x, out)  # exact values where given
    return np.moveaxis(out, 0, axis)


def _gap_free(x: np.ndarray, axis: int) -> np.ndarray:
    """`fill_gaps`, with series that have no finite sample set to 0 (scipy's filters reject NaN)."""
    filled = fill_gaps(x, axis)
    return np.where(np.isfinite(filled), filled, 0.0)


def _finish(smoothed: np.ndarray, x: np.ndarray, axis: int, fill: bool) -> np.ndarray:
    """NaN again where `x` was missing (or, with fill, only in series that had no finite sample)."""
    if fill:
        return np.where(np.isfinite(fill_gaps(x, axis)), smoothed, np.nan)
    return np.where(np.isfinite(x), smoothed, np.nan)


def one_euro(
    x: np.ndarray,
    fps: float,
    min_cutoff: float = 1.0,
    beta: float = 0.05,
    d_cutoff: float = 1.0,
    axis: int = 0,
    fill: bool = False,
) -> np.ndarray:
    """One Euro filter along `axis`, each series on its own.

    fps:        frame rate (Hz); cutoffs are in Hz and the speed in units per second.
    min_cutoff: cutoff at rest (Hz): lower smooths slow motion more.
    beta:       cutoff increase per unit of speed: higher lags less on fast motion. The default suits
                image pixels at ~30 fps (the paper's 0.007 lags a walking person's limbs by more than
                the jitter it removes); in units k times smaller (e.g. the 56-pixel heatmap grid of a
                ~400 px person, k ~ 7) use about k times the beta.
    d_cutoff:   cutoff of the speed estimate (Hz).
    """
    if not (fps > 0 and min_cutoff > 0 and d_cutoff > 0 and beta >= 0):
        raise PoseDenoiseError("one_euro needs fps, min_cutoff, d_cutoff > 0 and beta >= 0")
    x = np.asarray(x, dtype=np.float64)
    series = np.moveaxis(_gap_free(x, axis), axis, 0)  # (T, ...)
    out = np.empty_like(series)
    if series.shape[0] == 0:
        return np.moveaxis(out, 0, axis)
    dt = 1.0 / fps

    def alpha(cutoff):
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    a_d = alpha(d_cutoff)
    out[0] = series[0]
    speed = np.zeros_like(series[0])
    for t in range(1, series.shape[0]):
        raw_speed = (series[t] - out[t - 1]) / dt
        speed = speed + a_d * (raw_speed - speed)
        a = alpha(min_cutoff + beta * np.abs(speed))
        out[t] = out[t - 1] + a * (series[t] - out[t - 1])
    return _finish(np.moveaxis(out, 0, axis), x, axis, fill)


def savgol(
    x: np.ndarray, window: int = 5, polyorder: int = 2, axis: int = 0, fill: bool = False
) -> np.ndarray:
    """Savitzky-Golay filter along `axis` (scipy's `savgol_filter`, `interp` edges).

    window: odd number of frames; a longer window than the series is shrunk to the longest odd length
    that fits. A series too short for a polynomial fit above order 0 (fewer than polyorder + 2 frames)
    comes back unchanged.
    """
    if window < 1 or polyorder < 0:
        raise PoseDenoiseError("savgol needs window >= 1 and polyorder >= 0")
    x = np.asarray(x, dtype=np.float64)
    t = x.shape[axis]
    window = min(window if window % 2 else window - 1, t if t % 2 else t - 1)
    if window <= polyorder or window < 3:
        return x.copy()
    from scipy.signal import savgol_filter  # scipy.signal takes half a second to import: only when used

    smoothed = savgol_filter(_gap_free(x, axis), window, polyorder, axis=axis, mode="interp")
    return _finish(smoothed, x, axis, fill)


def gaussian(x: np.ndarray, sigma: float = 1.0, axis: int = 0, fill: bool = False) -> np.ndarray:
    """Gaussian smoothing along `axis` (scipy's `gaussian_filter1d`, `nearest` edges, truncate 4).

    sigma: kernel standard deviation in frames.
    """
    if sigma <= 0:
        raise PoseDenoiseError("gaussian needs sigma > 0")
    x = np.asarray(x, dtype=np.float64)
    if x.shape[axis] == 0:
        return x.copy()
    smoothed = gaussian_filter1d(
        _gap_free(x, axis), sigma, axis=axis, mode="nearest", truncate=GAUSSIAN_TRUNCATE
    )
    return _finish(smoothed, x, axis, fill)


def smooth(
    name: str, x: np.ndarray, fps: float = 30.0, axis: int = 0, fill: bool = False, **params
) -> np.ndarray:
    """Run the smoother `name` (one of SMOOTHERS) with its keyword `params` (SMOOTHER_PARAMS[name]); `fps`
    is used by oneeuro only."""
    if name not in SMOOTHERS:
        raise PoseDenoiseError(f"unknown smoother {name!r}; choose one of {', '.join(SMOOTHERS)}")
    unknown = sorted(set(params) - set(SMOOTHER_PARAMS[name]))
    if unknown:
        known = ", ".join(SMOOTHER_PARAMS[name])
        raise PoseDenoiseError(f"{name} has no parameter {', '.join(unknown)}; its parameters: {known}")
    if name == "oneeuro":
        return one_euro(x, fps, axis=axis, fill=fill, **params)
    if name == "savgol":
        return savgol(x, axis=axis, fill=fill, **params)
    return gaussian(x, axis=axis, fill=fill, **params)


def lookahead_frames(name: str, **params) -> int:
    """Frames after the current one a smoother reads: the delay it implies for live use."""
    if name == "oneeuro":
        return 0  # causal (it lags in phase, but never waits for a future frame)
    if name == "savgol":
        return int(params.get("window", 5)) // 2
    if name == "gaussian":
        return int(GAUSSIAN_TRUNCATE * float(params.get("sigma", 1.0)) + 0.5)  # scipy's kernel radius
    raise PoseDenoiseError(f"unknown smoother {name!r}; choose one of {', '.join(SMOOTHERS)}")


__all__ = [
    "SMOOTHERS",
    "SMOOTHER_PARAMS",
    "fill_gaps",
    "gaussian",
    "lookahead_frames",
    "one_euro",
    "savgol",
    "smooth",
]
