"""Classic smoothers: (T, K, C) contract, NaN handling, scipy equivalence, and that they actually denoise."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d
from scipy.signal import savgol_filter

from posedenoise.errors import PoseDenoiseError
from posedenoise.smoothers import SMOOTHERS, fill_gaps, gaussian, lookahead_frames, one_euro, savgol, smooth


def smooth_track(t=120, k=5, fps=30.0):
    """(T, K, 2) sinusoidal limb motion in pixels (up to ~190 px/s), and a noisy copy (jitter, std 6 px)."""
    time = np.arange(t) / fps
    phase = np.linspace(0, 2, k)
    x = 200 + 60 * np.sin(2 * np.pi * 0.5 * time[:, None] + phase)
    y = 300 + 40 * np.cos(2 * np.pi * 0.3 * time[:, None] + phase)
    clean = np.stack([x, y], axis=-1)
    noisy = clean + np.random.default_rng(0).normal(0, 6.0, size=clean.shape)
    return clean, noisy


def rmse(a, b):
    return float(np.sqrt(np.nanmean(np.sum((a - b) ** 2, axis=-1))))


@pytest.mark.parametrize(
    "name, params",
    [
        ("oneeuro", {}),
        ("oneeuro", {"min_cutoff": 0.5, "beta": 0.1}),
        ("savgol", {"window": 9, "polyorder": 2}),
        ("gaussian", {"sigma": 2.0}),
        ("savgol", {}),
        ("gaussian", {}),
    ],
)
def test_smoother_lowers_error_on_noisy_smooth_track(name, params):
    clean, noisy = smooth_track()
    out = smooth(name, noisy, fps=30.0, **params)
    assert out.shape == noisy.shape
    assert rmse(out, clean) < 0.85 * rmse(noisy, clean)


def test_savgol_and_gaussian_are_scipy():
    _, noisy = smooth_track(t=40)
    np.testing.assert_allclose(savgol(noisy, 7, 3), savgol_filter(noisy, 7, 3, axis=0, mode="interp"))
    np.testing.assert_allclose(gaussian(noisy, 1.5), gaussian_filter1d(noisy, 1.5, axis=0, mode="nearest"))


def test_time_axis_and_batches_of_windows():
    _, noisy = smooth_track(t=5 * 6)
    windows = noisy.reshape(6, 5, 5, 2)  # (B, T=5, K, C): the report's test windows
    for name in SMOOTHERS:
        batched = smooth(name, windows, axis=1)
        one_by_one = np.stack([smooth(name, w) for w in windows])
        np.testing.assert_allclose(batched, one_by_one, rtol=1e-12, atol=1e-9)


def test_savgol_fits_short_windows():
    t = np.arange(5.0)
    quadratic = np.stack([1 + 2 * t + 0.5 * t**2, 3 - t], axis=-1)[:, None, :]  # (5, 1, 2)
    np.testing.assert_allclose(
        savgol(quadratic, window=9, polyorder=2), quadratic, atol=1e-9
    )  # window shrinks to 5
    wobbly = quadratic + np.array([0, 1, -1, 1, 0])[:, None, None]
    assert not np.allclose(savgol(wobbly), wobbly)
    two = quadratic[:2]
    np.testing.assert_array_equal(savgol(two), two)  # too short to fit: unchanged


def test_missing_samples_neither_spread_nor_get_invented():
    clean, noisy = smooth_track(t=60, k=3)
    gappy = noisy.copy()
    gappy[20:24, 1] = np.nan  # a joint lost for 4 frames
    gappy[:, 2, 0] = np.nan  # a coordinate never seen
    for name in SMOOTHERS:
        kept = smooth(name, gappy)
        assert np.isnan(kept[20:24, 1]).all() and np.isfinite(kept[:20, 1]).all()
        assert np.isfinite(kept[24:, 1]).all() and np.isfinite(kept[:, 0]).all()
        assert np.isnan(kept[:, 2, 0]).all() and np.isfinite(kept[:, 2, 1]).all()
        filled = smooth(name, gappy, fill=True)
        assert np.isfinite(filled[20:24, 1]).all() and np.isnan(filled[:, 2, 0]).all()
        assert rmse(filled[20:24, 1], clean[20:24, 1]) < 10  # near the truth, not at zero
        np.testing.assert_allclose(kept[np.isfinite(kept)], filled[np.isfinite(kept)])


def test_fill_gaps_interpolates_linearly_and_holds_edges():
    x = np.array([np.nan, 1.0, np.nan, np.nan, 4.0, np.nan])
    np.testing.assert_allclose(fill_gaps(x), [1, 1, 2, 3, 4, 4])
    both = np.stack([x, np.full(6, np.nan)], axis=1)
    out = fill_gaps(both)
    assert np.isnan(out[:, 1]).all()


def test_one_euro_is_causal_and_keeps_constants():
    _, noisy = smooth_track(t=30, k=2)
    out = one_euro(noisy, fps=30)
    changed = noisy.copy()
    changed[20:] += 100
    np.testing.assert_array_equal(one_euro(changed, fps=30)[:20], out[:20])  # the future is never read
    const = np.full((10, 1, 2), 7.0)
    np.testing.assert_allclose(one_euro(const, fps=30), const)
    # a higher beta follows a fast move with less lag
    step = np.concatenate([np.zeros(10), np.full(10, 100.0)])[:, None, None]
    slow, fast = one_euro(step, 30, beta=0.0), one_euro(step, 30, beta=0.1)
    assert fast[12, 0, 0] > slow[12, 0, 0]


def test_dispatch_and_lookahead():
    with pytest.raises(PoseDenoiseError, match="unknown smoother"):
        smooth("kalman", np.zeros((5, 1, 2)))
    with pytest.raises(PoseDenoiseError, match="savgol has no parameter sigma"):
        smooth("savgol", np.zeros((5, 1, 2)), sigma=2.0)
    with pytest.raises(PoseDenoiseError, match="sigma > 0"):
        smooth("gaussian", np.zeros((5, 1, 2)), sigma=0.0)
    assert lookahead_frames("oneeuro") == 0
    assert lookahead_frames("savgol") == 2 and lookahead_frames("savgol", window=9) == 4
    assert lookahead_frames("gaussian", sigma=1.0) == 4
