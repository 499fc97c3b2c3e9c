"""Filters for whole tracks: each matches its reference, parameters in seconds/Hz hold at any frame rate."""

from pathlib import Path

import numpy as np
import pytest
from scipy.signal import butter, filtfilt

from posedenoise import filters
from posedenoise.errors import PoseDenoiseError
from posedenoise.filter_options import PRESETS, load_config, merge_options
from posedenoise.smoothers import one_euro

DATA = Path(__file__).parent / "data"


def sine(freq, fps, seconds=4.0, amplitude=10.0):
    t = np.arange(int(seconds * fps)) / fps
    return amplitude * np.sin(2 * np.pi * freq * t)


def test_one_euro_equals_the_reference_on_its_published_ground_truth():
    # timestamp, noisy, filtered: the reference implementation's output (source in the file's header)
    truth = np.loadtxt(DATA / "one_euro_ground_truth.csv", delimiter=",", comments="#", skiprows=4)
    assert truth.shape == (1200, 3)
    out = one_euro(truth[:, 1], 120.0, min_cutoff=1.0, beta=0.1, d_cutoff=1.0)
    # the file holds 6 significant digits; the reference's own check allows 1e-4
    np.testing.assert_allclose(out, truth[:, 2], atol=1e-5)
    via_filters = filters.run_filter("oneeuro", truth[:, 1:2], 120.0, min_cutoff=1.0, beta=0.1)
    np.testing.assert_allclose(via_filters[:, 0], truth[:, 2], atol=1e-5)


def test_butterworth_is_filtfilt_of_the_same_butter_design():
    x = np.random.default_rng(0).normal(size=(300, 4, 2)).cumsum(axis=0)
    for fps, cutoff, order in [(30.0, 6.0, 4), (60.0, 8.0, 2), (100.0, 12.0, 3)]:
        b, a = butter(order, cutoff / (fps / 2))
        expected = filtfilt(b, a, x, axis=0)
        got = filters.run_filter("butterworth", x, fps, cutoff=cutoff, order=order)
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


def test_default_butterworth_passes_slow_motion_and_cuts_jitter_at_60_fps():
    fps = 60.0
    slow, jitter = sine(0.5, fps), sine(12.0, fps, amplitude=3.0)
    inner = slice(60, -60)  # away from the ends, where any filter's padding shows
    passed = filters.run_filter("butterworth", slow[:, None], fps)[:, 0]
    assert np.abs(passed - slow)[inner].max() < 0.01 * np.abs(slow).max()
    cut = filters.run_filter("butterworth", jitter[:, None], fps)[:, 0]
    assert np.abs(cut[inner]).max() * 10 <= np.abs(jitter[inner]).max()
    both = filters.run_filter("butterworth", (slow + jitter)[:, None], fps)[:, 0]
    assert np.abs(both - slow)[inner].max() < 0.1 * np.abs(jitter).max()


@pytest.mark.parametrize("name", ["savgol", "gaussian", "butterworth", "kalman", "oneeuro"])
def test_defaults_in_seconds_hold_at_30_and_60_fps(name):
    """A motion of a given frequency in Hz is passed or cut by the same factor at 30 and 60 fps."""

    def gain(freq, fps):
        x = sine(freq, fps, seconds=6.0)
        out = filters.run_filter(name, x[:, None], fps)[:, 0]
        inner = slice(int(1.5 * fps), int(-1.5 * fps))
        return np.abs(out[inner]).max() / np.abs(x[inner]).max()

    for freq in (0.5, 2.0, 5.0):
        g30, g60 = gain(freq, 30.0), gain(freq, 60.0)
        assert abs(g30 - g60) < 0.1, (freq, g30, g60)
    assert gain(0.5, 30.0) > 0.9  # slow motion passes
    assert gain(12.0, 60.0) < 0.6  # fast jitter is cut


def test_odd_frames_and_delays_follow_the_frame_rate():
    assert [filters.odd_frames(0.4, fps) for fps in (25, 30, 60)] == [11, 13, 25]
    assert filters.odd_frames(0.01, 30) == 3
    assert filters.delay_frames("savgol", 30.0) == 6 and filters.delay_frames("savgol", 60.0) == 12
    assert filters.delay_frames("oneeuro", 30.0) == 0
    assert filters.delay_frames("butterworth", 30.0) == -1  # reads the whole track
    assert filters.delay_frames("oneeuro", 30.0, zero_phase=True) == -1


def test_zero_phase_one_euro_removes_the_lag():
    fps = 60.0
    t = np.arange(240) / fps
    ramp = np.clip((t - 1.0) * 200.0, 0, 200)[:, None]  # starts moving at 1 s, 200 px/s for 1 s
    noisy = ramp + np.random.default_rng(2).normal(0, 1.0, size=ramp.shape)
    causal = filters.run_filter("oneeuro", noisy, fps)
    centred = filters.run_filter("oneeuro", noisy, fps, zero_phase=True)
    moving = (t > 1.1) & (t < 1.9)
    lag_causal = np.mean(ramp[moving] - causal[moving])
    lag_centred = np.mean(np.abs(ramp[moving] - centred[moving]))
    assert lag_causal > 1.0 and lag_centred < 0.5 * lag_causal


def test_kalman_follows_confidence_and_bridges_gaps():
    fps = 30.0
    t = np.arange(120) / fps
    truth = np.stack([300 + 150 * t, 200 + 40 * np.sin(2 * np.pi * 0.5 * t)], axis=-1)  # (T, 2)
    rng = np.random.default_rng(3)
    noisy = truth + rng.normal(0, 3.0, size=truth.shape)
    scores = np.full(len(t), 0.9)
    noisy[50] += 60.0  # a wild detection the detector doubted
    scores[50] = 0.05
    noisy[70:82] = np.nan  # a gap of 12 frames
    scores[70:82] = 0.0
    out = filters.run_filter("kalman", noisy[:, None], fps, scores=scores[:, None])[:, 0]
    assert np.isfinite(out).all()
    assert np.linalg.norm(out[50] - truth[50]) < 15  # the doubted detection barely pulls
    trusted = scores.copy()
    trusted[50] = 0.9
    pulled = filters.run_filter("kalman", noisy[:, None], fps, scores=trusted[:, None])[:, 0]
    assert np.linalg.norm(pulled[50] - truth[50]) > 2 * np.linalg.norm(out[50] - truth[50])
    gap_error = np.linalg.norm(out[70:82] - truth[70:82], axis=-1).max()
    assert gap_error < 10  # carried across by the motion
    seen = np.isfinite(noisy).all(axis=-1) & (scores > 0.5)
    assert np.abs(out - truth)[seen].mean() < 0.7 * np.abs(noisy - truth)[seen].mean()


def test_hampel_replaces_only_spikes_and_median_smooths():
    fps = 30.0
    t = np.arange(90) / fps
    smooth = np.stack([100 * np.sin(2 * np.pi * 0.5 * t), 20 * t], axis=-1)[:, None]  # (T, 1, 2)
    x = smooth + np.random.default_rng(4).normal(0, 1.0, size=smooth.shape)
    spikes = [20, 45, 46]
    x[spikes, 0, 0] += 80.0
    x[60, 0] = np.nan  # a missing sample stays missing
    cleaned, replaced = filters.reject_outliers("hampel", x, fps)
    flagged = set(np.flatnonzero(replaced[:, 0]).tolist())
    assert set(spikes) <= flagged and len(flagged - set(spikes)) <= 3  # a few noise extremes at most
    assert np.abs(cleaned - smooth)[replaced].max() < 8  # replaced by the window's median
    keep = ~replaced[:, 0] & np.isfinite(x[:, 0, 0])
    np.testing.assert_array_equal(cleaned[keep], x[keep])
    assert np.isnan(cleaned[60]).all()
    med, changed = filters.reject_outliers("median", x, fps)
    assert np.abs(med[spikes] - smooth[spikes]).max() < 8 and changed.sum() > len(spikes)


def test_bad_parameters_are_one_line_errors():
    x = np.zeros((50, 1, 2))
    with pytest.raises(PoseDenoiseError, match="half the frame rate"):
        filters.run_filter("butterworth", x, 10.0, cutoff=6.0)
    with pytest.raises(PoseDenoiseError, match="butterworth has no parameter window_s"):
        filters.run_filter("butterworth", x, 30.0, window_s=0.2)
    with pytest.raises(PoseDenoiseError, match="order must be a whole number"):
        filters.run_filter("butterworth", x, 30.0, order=2.5)
    with pytest.raises(PoseDenoiseError, match="unknown filter"):
        filters.run_filter("wiener", x, 30.0)


def test_presets_config_and_command_line_in_that_order(tmp_path):
    assert merge_options({"preset": "gait"})["filter_params"] == {"cutoff": 6.0, "order": 4}
    assert merge_options({"preset": "gait"})["reject"] == "hampel"
    config = tmp_path / "c.toml"
    config.write_text('preset = "sports"\ncutoff = 8.0\nmin_score = 0.5\n[denoise]\nfill_missing = false\n')
    loaded = load_config(config)
    options = merge_options({"order": 2}, loaded)
    assert options["filter"] == "butterworth" and options["filter_params"] == {"cutoff": 8.0, "order": 2}
    assert (options["min_score"], options["fill_missing"]) == (0.5, False)
    assert merge_options({"cutoff": 7.0}, loaded)["filter_params"]["cutoff"] == 7.0
    # another filter over a preset drops the preset's parameters, keeps its rejection
    options = merge_options({"preset": "gait", "filter": "savgol"})
    assert options["filter_params"] == {} and options["reject"] == "hampel"
    with pytest.raises(PoseDenoiseError, match="--cutoff not used by --filter savgol"):
        merge_options({"filter": "savgol", "cutoff": 5.0})
    with pytest.raises(PoseDenoiseError, match="--window-s not used by a model"):
        merge_options({"window_s": 0.3})
    config.write_text("cutof = 5\n")
    with pytest.raises(PoseDenoiseError, match="c.toml: unknown key 'cutof'"):
        load_config(config)
    config.write_text('cutoff = "fast"\n')
    with pytest.raises(PoseDenoiseError, match="c.toml: cutoff must be a number, got 'fast'"):
        load_config(config)
    config.write_text("cutoff = [\n")
    with pytest.raises(PoseDenoiseError, match="c.toml: not valid TOML"):
        load_config(config)
    for name, preset in PRESETS.items():
        options = merge_options({"preset": name})
        assert options["filter"] == preset["filter"]
        filters.check(options["filter"], filters.resolve(options["filter"], options["filter_params"]), 30.0)
