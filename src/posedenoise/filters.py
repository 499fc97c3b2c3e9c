"""Filters for whole pose tracks, with their parameters in seconds and Hz (so they hold at 30 and 60 fps).

`posedenoise.smoothers` keeps the chapter's smoothers with windows in frames, sized for its 5-frame test
windows. This module is what `denoise --filter NAME` runs on a user's whole video: every parameter is a
time or a frequency, converted to frames with the track's frame rate, and the defaults are chosen for
whole tracks (hundreds of frames), not 5-frame windows.

Contract: `x` is `(T, ...)` with time first (a track `(T, K, 2)` in pixels); NaN marks a missing sample.
Every filter returns the shape of `x` with every gap filled (a series with no finite sample stays NaN);
the caller decides which filled samples to keep.

- `savgol`:      Savitzky-Golay (`scipy.signal.savgol_filter`), window in seconds.
- `gaussian`:    Gaussian kernel (`scipy.ndimage.gaussian_filter1d`), sigma in seconds.
- `oneeuro`:     One Euro (Casiez et al. 2012), causal; `zero_phase` runs it forward then backward over
                 the result (like `filtfilt`), which removes its lag on offline files.
- `butterworth`: zero-phase low-pass, `scipy.signal.filtfilt` of `scipy.signal.butter(order, cutoff)`;
                 the biomechanics default (6 Hz, order 4).
- `kalman`:      constant-velocity Kalman filter with Rauch-Tung-Striebel smoothing; the measurement
                 noise of a joint grows as the detector's confidence falls, and gaps are bridged by the
                 motion model rather than by a straight line.

Outlier rejection (`REJECTS`), run before any filter or model:
- `hampel`: a sample farther than `n_sigmas` robust standard deviations (1.4826 x the median absolute
  deviation) from the median of its window is replaced by that median; the rest are kept as they are.
- `median`: every sample is replaced by the median of its window (a running median filter), which
  removes spikes shorter than half the window.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import gaussian_filter1d

from posedenoise.errors import PoseDenoiseError
from posedenoise.filter_options import FILTER_PARAMS, FILTERS, REJECT_PARAMS, REJECTS, Param
from posedenoise.smoothers import GAUSSIAN_TRUNCATE, fill_gaps, one_euro


def defaults(name: str) -> dict[str, Any]:
    """The default parameters of a filter or a rejection method."""
    table = FILTER_PARAMS if name in FILTER_PARAMS else REJECT_PARAMS
    return {p.name: p.default for p in table[name]}


def resolve(name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The full parameters of filter `name`: its defaults updated with `params`, checked."""
    if name not in FILTER_PARAMS:
        raise PoseDenoiseError(f"unknown filter {name!r}; choose one of {', '.join(FILTERS)}")
    return _resolve(name, FILTER_PARAMS[name], params)


def resolve_reject(name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The full parameters of rejection method `name`, checked."""
    if name not in REJECT_PARAMS:
        raise PoseDenoiseError(f"unknown outlier rejection {name!r}; choose one of {', '.join(REJECTS)}")
    return _resolve(name, REJECT_PARAMS[name], params)


def _resolve(name: str, table: tuple[Param, ...], params: dict[str, Any] | None) -> dict[str, Any]:
    params = dict(params or {})
    known = {p.name: p for p in table}
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise PoseDenoiseError(
            f"{name} has no parameter {', '.join(unknown)}; its parameters: {', '.join(known)}"
        )
    out = {p.name: p.default for p in table}
    for key, value in params.items():
        kind = type(known[key].default)
        if kind is bool:
            if not isinstance(value, bool):
                raise PoseDenoiseError(f"{name}: {key} must be true or false, got {value!r}")
        elif kind is int:
            if isinstance(value, bool) or not float(value).is_integer():
                raise PoseDenoiseError(f"{name}: {key} must be a whole number, got {value!r}")
            value = int(value)
        else:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise PoseDenoiseError(f"{name}: {key} must be a number, got {value!r}")
            value = float(value)
        out[key] = value
    return out


def odd_frames(seconds: float, fps: float) -> int:
    """The odd number of frames nearest to `seconds` at `fps`, at least 3."""
    n = seconds * fps
    return max(3, 2 * int(math.floor((n - 1) / 2 + 0.5)) + 1)


MAX_SIGMA_FRAMES = 10_000
MAX_KALMAN = 1e12  # px, px/s^2: far beyond any image, and squared (variances) still finite


def check(name: str, params: dict[str, Any], fps: float) -> None:
    """Raise a one-line error for parameters the filter cannot run with at `fps`."""
    if not (math.isfinite(fps) and fps > 0):
        raise PoseDenoiseError(f"the frame rate must be > 0, got {fps}")
    p = params
    if name == "savgol":
        if p["window_s"] <= 0 or p["polyorder"] < 0:
            raise PoseDenoiseError("savgol needs window_s > 0 and polyorder >= 0")
        if p["polyorder"] >= odd_frames(p["window_s"], fps):
            frames = odd_frames(p["window_s"], fps)
            raise PoseDenoiseError(
                f"savgol: polyorder {p['polyorder']} needs a window longer than {frames} frames "
                f"({p['window_s']:g} s at {fps:g} fps)"
            )
    elif name == "gaussian":
        if p["sigma_s"] <= 0:
            raise PoseDenoiseError("gaussian needs sigma_s > 0")
        if p["sigma_s"] * fps > MAX_SIGMA_FRAMES:  # the kernel spans 8 sigma: all memory beyond this
            raise PoseDenoiseError(
                f"gaussian: sigma_s {p['sigma_s']:g} s is over {MAX_SIGMA_FRAMES:,} frames at {fps:g} fps"
            )
    elif name == "oneeuro":
        if not (p["min_cutoff"] > 0 and p["d_cutoff"] > 0 and p["beta"] >= 0):
            raise PoseDenoiseError("oneeuro needs min_cutoff, d_cutoff > 0 and beta >= 0")
    elif name == "butterworth":
        if p["order"] < 1:
            raise PoseDenoiseError("butterworth needs order >= 1")
        if not 0 < p["cutoff"] < fps / 2:
            raise PoseDenoiseError(
                f"butterworth: cutoff {p['cutoff']:g} Hz must be between 0 and half the frame rate "
                f"({fps / 2:g} Hz)"
            )
    elif name == "kalman":
        if not (p["noise_px"] > 0 and p["accel"] > 0):
            raise PoseDenoiseError("kalman needs noise_px > 0 and accel > 0")
        if max(p["noise_px"], p["accel"]) > MAX_KALMAN:  # their squares must stay finite
            raise PoseDenoiseError(f"kalman needs noise_px and accel of at most {MAX_KALMAN:g}")
    elif name in REJECT_PARAMS:
        if p["reject_window_s"] <= 0 or p.get("n_sigmas", 1.0) <= 0:
            raise PoseDenoiseError(f"{name} needs reject_window_s > 0 and n_sigmas > 0")


def run_filter(
    name: str, x: np.ndarray, fps: float, scores: np.ndarray | None = None, **params: Any
) -> np.ndarray:
    """Filter `x` (T, ...) along time with filter `name` and `params` (defaults for those not given).

    scores (T, ...) without the coordinate axis: the detector's confidence (kalman only; 1 if None).
    Returns an array of x's shape with gaps filled; series with no finite sample stay NaN.
    """
    p = resolve(name, params)
    check(name, p, fps)
    x = np.asarray(x, dtype=np.float64)
    if x.shape[0] == 0:
        return x.copy()
    if name == "kalman":
        return kalman_rts(x, fps, scores, noise_px=p["noise_px"], accel=p["accel"])
    if name == "oneeuro":
        out = one_euro(x, fps, p["min_cutoff"], p["beta"], p["d_cutoff"], fill=True)
        if p["zero_phase"]:
            out = one_euro(out[::-1], fps, p["min_cutoff"], p["beta"], p["d_cutoff"], fill=True)[::-1]
        return np.ascontiguousarray(out)
    filled = fill_gaps(x)
    empty = ~np.isfinite(filled)  # series without a finite sample
    filled = np.where(empty, 0.0, filled)
    return np.where(empty, np.nan, smooth_filled(name, filled, fps, p, x.shape[0]))


def smooth_filled(name: str, filled: np.ndarray, fps: float, p: dict[str, Any], length: int) -> np.ndarray:
    """Savitzky-Golay, Gaussian or Butterworth (resolved parameters `p`) along axis 0 of gap-free `filled`.

    length: frames of the whole series `filled` is part of (the Savitzky-Golay window shrinks to fit it);
    `filled` itself when it is the whole series. For a part, see `context_frames`."""
    t = filled.shape[0]
    if name == "savgol":
        window = min(odd_frames(p["window_s"], fps), length if length % 2 else length - 1)
        if window <= p["polyorder"]:
            return filled  # too short for the fit: interpolated only
        from scipy.signal import savgol_filter  # half a second to import: only for the filters using it

        return savgol_filter(
            filled, min(window, t if t % 2 else t - 1), p["polyorder"], axis=0, mode="interp"
        )
    if name == "gaussian":
        return gaussian_filter1d(
            filled, p["sigma_s"] * fps, axis=0, mode="nearest", truncate=GAUSSIAN_TRUNCATE
        )
    return butterworth(filled, fps, p["cutoff"], p["order"])


def context_frames(name: str, p: dict[str, Any], fps: float) -> int | None:
    """Frames either side that `smooth_filled` needs to give a frame the value it has over the whole series:
    a part of a series with this many frames of context (or the series' end) on each side, smoothed with
    the whole series' `length`, gives exactly the whole series' values (the same arithmetic on the same
    numbers). The Savitzky-Golay edges are fitted to a whole window, hence a window and not half of one.
    None: the filter reads the whole series (Butterworth's filtfilt, One Euro, Kalman/RTS)."""
    if name == "gaussian":
        return int(GAUSSIAN_TRUNCATE * float(p["sigma_s"] * fps) + 0.5) * 2 + 1  # scipy's radius, doubled
    if name == "savgol":
        return odd_frames(p["window_s"], fps)
    return None


def butterworth(x: np.ndarray, fps: float, cutoff: float = 6.0, order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth low-pass along axis 0: `filtfilt(*butter(order, cutoff, fs=fps), x)`.

    x must be finite. Tracks shorter than scipy's default padding (3 x the filter length) are padded by
    as much as they allow, so a short piece is still filtered instead of refused.
    """
    from scipy.signal import butter, filtfilt  # half a second to import: only for the filters using it

    b, a = butter(order, cutoff, btype="low", fs=fps)
    padlen = min(3 * max(len(a), len(b)), x.shape[0] - 1)
    return filtfilt(b, a, x, axis=0, padlen=padlen)


def kalman_rts(
    x: np.ndarray,
    fps: float,
    scores: np.ndarray | None = None,
    noise_px: float = 4.0,
    accel: float = 3000.0,
    min_score: float = 0.05,
) -> np.ndarray:
    """Constant-velocity Kalman filter and Rauch-Tung-Striebel smoother along axis 0.

    x (T, ...) with NaN for missing samples; every other position is an independent series (x and y
    of each joint). State: position and velocity; the acceleration is white noise of std `accel`
    (units/s^2). A measurement's noise std is `noise_px / score` (score floored at `min_score`), so a
    joint the detector doubts pulls the estimate less. Missing samples get no update: the motion
    model carries the estimate across a gap, and the backward pass makes it meet the far side.

    Written with numpy rather than a library: filterpy, the usual choice, has had no release since 2018,
    and runs one series at a time; here every joint and coordinate of a track is one vectorised series
    of 2 x 2 updates (closed form), so a whole video takes milliseconds.
    """
    x = np.asarray(x, dtype=np.float64)
    shape = x.shape
    t = shape[0]
    z = x.reshape(t, -1)  # (T, N)
    if scores is None:
        s = np.ones_like(z)
    else:
        s = np.broadcast_to(np.asarray(scores, dtype=np.float64)[..., None], shape).reshape(t, -1)
    observed = np.isfinite(z) & np.isfinite(s) & (s > 0)
    r = (noise_px / np.maximum(np.where(observed, s, 1.0), min_score)) ** 2  # (T, N) measurement variance
    dt = 1.0 / fps
    q = accel**2  # white-noise acceleration: Q = q * [[dt^4/4, dt^3/2], [dt^3/2, dt^2]]
    q11, q12, q22 = q * dt**4 / 4, q * dt**3 / 2, q * dt**2
    n = z.shape[1]
    # filtered and predicted state (position p, velocity v) and covariance [[a, b], [b, c]] per step
    fp, fv, fa, fb, fc = (np.empty((t, n)) for _ in range(5))
    pp, pv, pa, pb, pc = (np.empty((t, n)) for _ in range(5))
    first = np.where(observed.any(axis=0), observed.argmax(axis=0), 0)
    big = 1e12  # an uninformed prior: the first measurement sets the position, later ones the velocity
    p = z[first, np.arange(n)]
    p = np.where(np.isfinite(p), p, 0.0)
    v = np.zeros(n)
    a, b, c = np.full(n, big), np.zeros(n), np.full(n, big)
    for k in range(t):
        if k > 0:  # predict: F = [[1, dt], [0, 1]]
            p = p + dt * v
            a, b, c = a + 2 * dt * b + dt * dt * c + q11, b + dt * c + q12, c + q22
        pp[k], pv[k], pa[k], pb[k], pc[k] = p, v, a, b, c
        # update with H = [1, 0] where observed
        obs = observed[k]
        innov = np.where(obs, z[k] - p, 0.0)
        denom = a + r[k]
        k_p, k_v = np.where(obs, a / denom, 0.0), np.where(obs, b / denom, 0.0)
        p, v = p + k_p * innov, v + k_v * innov
        a, b, c = (1 - k_p) * a, (1 - k_p) * b, c - k_v * b
        fp[k], fv[k], fa[k], fb[k], fc[k] = p, v, a, b, c
    # Rauch-Tung-Striebel: smoothed = filtered + G (smoothed_next - predicted_next), G = P F^T Ppred^-1
    sp, sv = fp[-1].copy(), fv[-1].copy()
    out = np.empty((t, n))
    out[-1] = sp
    for k in range(t - 2, -1, -1):
        a, b, c = fa[k], fb[k], fc[k]
        pfa, pfb, pfc = a + dt * b, b, b + dt * c  # P F^T = [[a + dt b, b], [b + dt c, c]]
        na, nb, nc = pa[k + 1], pb[k + 1], pc[k + 1]
        det = na * nc - nb * nb
        ia, ib, ic = nc / det, -nb / det, na / det  # inverse of the predicted covariance
        g11, g12 = pfa * ia + pfb * ib, pfa * ib + pfb * ic
        g21, g22 = pfc * ia + c * ib, pfc * ib + c * ic
        dp, dv = sp - pp[k + 1], sv - pv[k + 1]
        sp, sv = fp[k] + g11 * dp + g12 * dv, fv[k] + g21 * dp + g22 * dv
        out[k] = sp
    out[:, ~observed.any(axis=0)] = np.nan
    return out.reshape(shape)


def reject_outliers(name: str, x: np.ndarray, fps: float, **params: Any) -> tuple[np.ndarray, np.ndarray]:
    """Outlier rejection `name` (one of REJECTS) along axis 0 of x (T, K, 2), NaN = missing.

    Returns (x with outliers replaced by their window's median, (T, K) bool: samples replaced). Missing
    samples stay missing; the medians are taken over the gap-filled series.
    """
    p = resolve_reject(name, params)
    check(name, p, fps)
    x = np.asarray(x, dtype=np.float64)
    t = x.shape[0]
    if t < 3:
        return x.copy(), np.zeros(x.shape[:2], dtype=bool)
    window = min(odd_frames(p["reject_window_s"], fps), t if t % 2 else t - 1)
    filled = fill_gaps(x)
    empty = ~np.isfinite(filled)
    filled = np.where(empty, 0.0, filled)
    half = window // 2
    padded = np.concatenate([filled[:1].repeat(half, axis=0), filled, filled[-1:].repeat(half, axis=0)])
    windows = sliding_window_view(padded, window, axis=0)  # (T, ..., window)
    med = np.median(windows, axis=-1)
    present = np.isfinite(x)
    if name == "median":
        replaced = present.all(axis=-1) & (med != x).any(axis=-1)
    else:
        # the median absolute deviation of the window from its own median (Hampel's identifier);
        # a floor of a hundredth of a pixel keeps a still joint from flagging every tiny move
        mad = np.median(np.abs(windows - med[..., None]), axis=-1)
        far = np.abs(filled - med) > p["n_sigmas"] * np.maximum(1.4826 * mad, 1e-2)
        replaced = present.all(axis=-1) & far.any(axis=-1)
    out = np.where(replaced[..., None], med, x)
    return out, replaced


def delay_frames(name: str, fps: float, **params: Any) -> int:
    """Frames after a frame that must arrive before the filter can report it (0: causal)."""
    p = resolve(name, params)
    if name == "oneeuro" and not p["zero_phase"]:
        return 0
    if name == "savgol":
        return odd_frames(p["window_s"], fps) // 2
    if name == "gaussian":
        return int(GAUSSIAN_TRUNCATE * p["sigma_s"] * fps + 0.5)
    return -1  # zero-phase Butterworth, One Euro and the RTS smoother read the whole track


def describe(name: str, params: dict[str, Any]) -> str:
    """`name (param value unit, ...)` for the summary."""
    table = FILTER_PARAMS.get(name) or REJECT_PARAMS[name]
    shown = ", ".join(Param(q.name, params[q.name], q.unit, q.help).shown for q in table)
    return f"{name} ({shown})"


def jitter(frames: np.ndarray, keypoints: np.ndarray, segment_starts: list[int] | None = None) -> tuple:
    """Sum and count of |second difference| (px/frame^2) over a track's joints.

    frames (T,) int, keypoints (T, K, 2) with NaN where missing. Only triples of consecutive video frames
    inside one segment (`segment_starts`: first indices of segments after the first) count, so a jump
    between people or a gap is not taken for jitter. Returns (sum, count) to pool over tracks.
    """
    frames = np.asarray(frames)
    if len(frames) < 3:
        return 0.0, 0
    i = np.arange(1, len(frames) - 1)
    ok = (frames[i + 1] - frames[i] == 1) & (frames[i] - frames[i - 1] == 1)
    for start in segment_starts or []:
        ok &= ~((i - 1 < start) & (start <= i + 1))
    i = i[ok]
    second = keypoints[i + 1] - 2 * keypoints[i] + keypoints[i - 1]  # (M, K, 2)
    size = np.linalg.norm(second, axis=-1)
    size = size[np.isfinite(size)]
    return float(size.sum()), int(size.size)


__all__ = [
    "FILTERS",
    "FILTER_PARAMS",
    "REJECTS",
    "REJECT_PARAMS",
    "Param",
    "butterworth",
    "context_frames",
    "defaults",
    "delay_frames",
    "describe",
    "jitter",
    "kalman_rts",
    "odd_frames",
    "reject_outliers",
    "resolve",
    "resolve_reject",
    "run_filter",
    "smooth_filled",
]
