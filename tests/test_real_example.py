"""`examples/real_video.py` on the real MediaPipe sample shipped in `examples/data/`:
every smoother lowers the jitter, the outputs keep all 33 landmarks, the jitter ignores track breaks, and
the sample's statistics are the realistic noise profile's defaults."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from posedenoise.checkpoint import save_checkpoint
from posedenoise.models import create_model
from posedenoise.noise import RealisticNoise

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "examples" / "data"


def load_example():
    spec = importlib.util.spec_from_file_location("real_video", REPO / "examples" / "real_video.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["real_video"] = module
    spec.loader.exec_module(module)
    return module


example = load_example()


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """The example run end to end, with a small (untrained) conv3d as the model."""
    out = tmp_path_factory.mktemp("real_video")
    torch.manual_seed(0)
    meta = {
        "model": "conv3d", "model_options": {"kernel_size": 3}, "shift": 1, "experiment": 2, "seed": 0,
        "epoch": 1, "data_fingerprint": "x", "train_config": {},
    }  # fmt: skip
    save_checkpoint(out / "model.pt", create_model("conv3d", kernel_size=3), meta)
    argv = ["real_video.py", "--data", str(DATA), "--out", str(out), "--checkpoint", str(out / "model.pt")]
    old, sys.argv = sys.argv, argv
    try:
        example.main()
    finally:
        sys.argv = old
    return out


def test_every_smoother_lowers_jitter_on_every_joint(outputs):
    figures = json.loads((outputs / "jitter.json").read_text())
    assert figures["breaks"] == [172, 203]  # the tracker's jumps to other people
    methods = figures["methods"]
    raw = methods["raw"]
    for name in ("mediapipe", "oneeuro", "savgol", "gaussian"):
        assert methods[name]["jitter_mean"] < 0.9 * raw["jitter_mean"], name
        for joint, value in methods[name]["jitter_per_joint"].items():
            assert value < raw["jitter_per_joint"][joint], (name, joint)
        assert 0 < methods[name]["moved_from_raw_px"] < 20  # smoothed, not moved somewhere else
    for name in ("wrist.png", "jitter.png", "jitter.md"):
        assert (outputs / name).stat().st_size > 0
    table = (outputs / "jitter.md").read_text()
    assert "| Savitzky-Golay |" in table and f"{raw['jitter_mean']:.2f}" in table


@pytest.mark.parametrize("method", ["savgol", "model"])
def test_outputs_keep_all_33_landmarks(outputs, method):
    source = json.loads((DATA / "sports2d_demo_raw.json").read_text())
    written = json.loads((outputs / f"{method}.json").read_text())
    assert written["layout"] == "blazepose33" and len(written["results"]) == len(source["results"])
    changed = np.zeros(33, dtype=bool)
    for a, b in zip(source["results"], written["results"], strict=True):
        assert a["image_id"] == b["image_id"] and len(b["keypoints"]) == 33 * 3
        ka, kb = np.reshape(a["keypoints"], (33, 3)), np.reshape(b["keypoints"], (33, 3))
        np.testing.assert_array_equal(ka[:, 2], kb[:, 2])  # visibility kept
        assert np.isfinite(kb).all()
        changed |= (ka[:, :2] != kb[:, :2]).any(axis=1)
    eyes_and_mouth = [1, 2, 3, 4, 5, 6, 9, 10]  # outside the 25-joint layout
    hands_and_feet = list(range(17, 23)) + list(range(29, 33))  # in no training data of the study's models
    if method == "model":
        assert not changed[eyes_and_mouth + hands_and_feet].any() and changed.sum() == 15
    else:
        assert changed.all()  # a smoother works on every landmark


def test_jitter_skips_breaks_and_missing_frames():
    frames = np.array([1, 2, 3, 4, 5, 6, 8, 9, 10])  # frame 7 was not detected
    coords = np.zeros((len(frames), 25, 2))
    coords[..., 0] = 10.0 * frames[:, None]  # constant speed: no jitter
    coords[frames >= 4, :, 0] += 500  # the tracker jumps to someone else at frame 4
    coords[frames >= 8, :, 1] += 300  # and again after the gap
    assert np.allclose(example.jitter_per_joint(frames, coords, breaks=[4]), 0)
    assert (example.jitter_per_joint(frames, coords, breaks=[]) > 0).all()
    assert example.valid_triples(frames, [4]).tolist() == [1, 4, 7]


def test_sample_statistics_are_the_realistic_profiles_defaults():
    stats = example.real_sample_statistics(DATA / "sports2d_demo_raw.json")
    profile = RealisticNoise()
    np.testing.assert_allclose(stats["visibility_quantiles"], profile.confidence_quantiles, atol=1e-3)
    assert stats["share_visibility_below_0.3"] == pytest.approx(profile.joint_miss_rate, abs=1e-3)
    assert stats["visibility_lag1_correlation"] == pytest.approx(profile.confidence_correlation, abs=5e-3)
    assert stats["share_frames_missed"] == pytest.approx(profile.frame_miss_rate, abs=2e-3)
    assert np.mean(stats["missed_frame_runs"]) == pytest.approx(profile.frame_miss_frames, abs=0.05)
    assert stats["outliers"]["share"] == pytest.approx(profile.outlier_rate, abs=1e-3)
    assert stats["shift_gain_fit"] == pytest.approx(profile.shift_gain, abs=0.5)
    limb_runs = stats["inversions"]["arms"]["runs"] + stats["inversions"]["legs"]["runs"]
    assert np.mean(limb_runs) == pytest.approx(profile.swap_frames, abs=1.0)
    # the rate chosen lies between the sample's arms and legs
    assert stats["inversions"]["arms"]["share_of_frames"] < profile.swap_rate
    assert profile.swap_rate < stats["inversions"]["legs"]["share_of_frames"]
