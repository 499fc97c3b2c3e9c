"""The realistic detector-noise profile (`noise.RealisticNoise`): its rates match the configuration, misses
reach the input maps only, evaluation draws are deterministic, a model trained with it repairs swaps and
fills gaps better than the identity function, and `report` shows it as Table 5."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from posedenoise.checkpoint import read_checkpoint, save_checkpoint
from posedenoise.errors import PoseDenoiseError
from posedenoise.evaluate import cached_evaluation, evaluate_baseline, evaluate_checkpoint
from posedenoise.layout import FLIP_PAIRS, JOINT_INDEX
from posedenoise.models import create_model
from posedenoise.noise import (
    CHAPTER,
    SWAP_GROUPS,
    ChapterProfile,
    Experiment,
    RealisticNoise,
    RealisticProfile,
    apply_realistic_noise,
    eval_noise,
    eval_realistic_noise,
    make_noise,
    markov_runs,
    repair_counts,
    train_realistic_noise,
)
from posedenoise.pipeline import TrainWindows, eval_inputs, iterate_batches
from posedenoise.prepare import prepare_dataset
from posedenoise.report import collect_results, render_tables
from posedenoise.runs import Run
from posedenoise.sources.synthetic import SyntheticConfig, generate_synthetic
from posedenoise.train import TrainConfig, fit

ARMS, LEGS = list(SWAP_GROUPS["arms"]), list(SWAP_GROUPS["legs"])
EARS = [JOINT_INDEX["left_ear"], JOINT_INDEX["right_ear"]]


def simulate(profile: RealisticNoise, n: int = 4000, experiment=Experiment(1, 1), frames: int = 5, seed=0):
    """Realistic noise on still, fully present people in the middle of the grid."""
    gt = torch.full((n, frames, 25, 2), 27.5)
    gt[..., 0] += torch.arange(25, dtype=torch.float32) * 0.01  # partners differ, so a swap is visible
    present = torch.ones((n, frames, 25), dtype=torch.bool)
    if frames == 5:
        draws = eval_realistic_noise(seed, experiment.step, "val", n)
    else:
        draws = train_realistic_noise(torch.Generator().manual_seed(seed), n, frames=frames)
    return gt, apply_realistic_noise(gt, present, draws, experiment, profile)


def run_lengths(on: torch.Tensor) -> np.ndarray:
    """Lengths of the runs of True along the last axis, runs touching either end excluded."""
    lengths = []
    for row in on.reshape(-1, on.shape[-1]).numpy():
        edges = np.flatnonzero(np.diff(np.r_[0, row.astype(np.int8), 0]))
        starts, stops = edges[::2], edges[1::2]
        inside = (starts > 0) & (stops < len(row))
        lengths.extend((stops - starts)[inside])
    return np.asarray(lengths)


# ----------------------------------------------------------------------------- rates


def test_rates_match_the_configuration():
    profile = RealisticNoise()
    _, out = simulate(profile)
    frame_missed = ~out.input_present.any(dim=-1)  # (N, T): every joint gone at once
    assert float(frame_missed.float().mean()) == pytest.approx(profile.frame_miss_rate, abs=0.01)
    kept_frames = ~frame_missed.unsqueeze(-1).expand_as(out.input_present)
    # unswapped joints of detected frames: every miss there is a joint miss
    plain = kept_frames & ~out.swapped
    joint_missed = (~out.input_present)[plain].float().mean()
    assert float(joint_missed) == pytest.approx(profile.joint_miss_rate, abs=0.01)
    detected = out.input_present
    assert float(out.outlier[detected].float().mean()) == pytest.approx(profile.outlier_rate, abs=0.003)


def test_swap_shares_per_group_and_for_the_whole_body():
    limbs_only = RealisticNoise(swap_rate=0.2, body_swap_rate=0.0)
    _, out = simulate(limbs_only)
    for group in (ARMS, LEGS):
        assert float(out.swapped[..., group].float().mean()) == pytest.approx(0.2, abs=0.015)
    assert not out.swapped[..., EARS].any()  # ears only flip with the whole body
    # a chain flips as one: every joint of the group at once
    assert bool((out.swapped[..., ARMS] == out.swapped[..., ARMS[:1]]).all())

    body_only = RealisticNoise(swap_rate=0.0, body_swap_rate=0.1)
    _, out = simulate(body_only)
    assert float(out.swapped[..., EARS].float().mean()) == pytest.approx(0.1, abs=0.015)
    assert not out.swapped[..., JOINT_INDEX["nose"]].any()  # no partner, never swapped


def test_a_swapped_joint_is_detected_at_its_partners_position():
    profile = RealisticNoise(swap_rate=0.5, outlier_rate=0.0, joint_miss_rate=0.0, frame_miss_rate=0.0)
    gt = torch.rand((300, 5, 25, 2)) * 40 + 8
    present = torch.ones((300, 5, 25), dtype=torch.bool)
    present[:, :, JOINT_INDEX["right_knee"]] = False  # a partner missing from the ground truth
    draws = eval_realistic_noise(0, 1, "test", 300)
    draws.base.z[:] = 0  # no shifts: the detection is exactly the source joint's position
    out = apply_realistic_noise(gt, present, draws, Experiment(1, 2), profile)
    flip = torch.as_tensor(FLIP_PAIRS)
    expected = torch.where(out.swapped.unsqueeze(-1), gt[:, :, flip], gt).round()
    both = out.swapped & present & present[:, :, flip]
    assert both.any()
    assert torch.equal(out.noisy[both], expected[both])
    # the left knee swapped with an absent right knee has nothing to be detected at
    left_knee = out.swapped[..., JOINT_INDEX["left_knee"]]
    assert left_knee.any() and not out.input_present[..., JOINT_INDEX["left_knee"]][left_knee].any()


@pytest.mark.parametrize("share, mean_run", [(0.1, 14.0), (0.3, 3.0)])
def test_runs_have_the_configured_share_and_mean_length(share, mean_run):
    u = torch.rand((400, 600), generator=torch.Generator().manual_seed(1))
    on = markov_runs(u, share, mean_run)
    assert float(on.float().mean()) == pytest.approx(share, rel=0.08)
    assert run_lengths(on).mean() == pytest.approx(mean_run, rel=0.08)


def test_half_frame_rate_halves_runs_in_window_frames():
    profile = RealisticNoise(swap_rate=0.2, swap_frames=8.0, body_swap_rate=0.0)
    _, full = simulate(profile, n=300, frames=400, experiment=Experiment(1, 1))
    _, half = simulate(profile, n=300, frames=400, experiment=Experiment(1, 3))
    assert run_lengths(full.swapped[..., 7]).mean() == pytest.approx(8.0, rel=0.1)
    assert run_lengths(half.swapped[..., 7]).mean() == pytest.approx(4.0, rel=0.1)
    assert float(half.swapped[..., 7].float().mean()) == pytest.approx(0.2, abs=0.02)


def test_shifts_grow_as_confidence_falls():
    profile = RealisticNoise(outlier_rate=0.0, swap_rate=0.0, body_swap_rate=0.0)
    gt, out = simulate(profile, experiment=Experiment(2, 1))
    residual = (out.noisy - gt).numpy()  # (N, T, K, 2); clipping never bites for most joints
    conf = out.confidence.numpy()
    stds = []
    for lo, hi in ((0.3, 0.7), (0.9, 0.97), (0.99, 1.01)):
        sel = (conf >= lo) & (conf < hi)
        expected = 6.0 * (1 + profile.shift_gain * (1 - conf[sel])) if hi < 1 else 6.0
        measured = residual[sel].std()
        stds.append(measured)
        assert measured == pytest.approx(np.sqrt(np.mean(np.square(expected)) + 1 / 12), rel=0.1)
    assert stds[0] > 1.5 * stds[2]


def test_outliers_are_more_likely_at_low_confidence():
    profile = RealisticNoise(outlier_rate=0.05)
    _, out = simulate(profile)
    conf, outlier = out.confidence, out.outlier
    low = float(outlier[conf < 0.6].float().mean())
    high = float(outlier[conf > 0.99].float().mean())
    assert low > 2 * high > 0


def test_confidence_follows_the_real_visibility_distribution():
    profile = RealisticNoise()
    _, out = simulate(profile)
    conf = out.confidence.numpy().ravel()
    levels = np.linspace(0, 1, len(profile.confidence_quantiles))
    np.testing.assert_allclose(np.quantile(conf, levels[1:-1]), profile.confidence_quantiles[1:-1], atol=0.03)
    # consecutive frames are strongly correlated, as in the real sample
    normal = torch.special.ndtri(torch.as_tensor(out.confidence).clamp(1e-4, 1 - 1e-4))
    assert np.corrcoef(normal[:, 0].ravel(), normal[:, 1].ravel())[0, 1] > 0.7


def test_eval_draws_are_deterministic_prefix_stable_and_keep_the_chapters_shifts():
    a = eval_realistic_noise(3, 1, "test", 100)
    b = eval_realistic_noise(3, 1, "test", 40)
    for x, y in ((a.confidence, b.confidence), (a.swap, b.swap), (a.frame, b.frame), (a.outlier, b.outlier)):
        np.testing.assert_array_equal(x[:40], y)
    np.testing.assert_array_equal(a.base.z, eval_noise(3, 1, "test", 100).z)
    assert not np.array_equal(eval_realistic_noise(4, 1, "test", 40).swap, b.swap)
    assert not np.array_equal(eval_realistic_noise(3, 1, "val", 40).swap, b.swap)


def test_bad_profiles_are_one_line_errors():
    with pytest.raises(PoseDenoiseError, match="swap_rate"):
        RealisticNoise(swap_rate=1.5)
    with pytest.raises(PoseDenoiseError, match=r"option\(s\) nonsense; valid options: .*swap_rate"):
        make_noise("realistic", {"nonsense": 1})
    with pytest.raises(PoseDenoiseError, match="noise must be one of chapter, realistic, got 'gaussian'"):
        make_noise("gaussian")
    with pytest.raises(PoseDenoiseError, match="only apply to the realistic"):
        make_noise("chapter", {"swap_rate": 0.3})
    assert make_noise("chapter") == CHAPTER and isinstance(CHAPTER, ChapterProfile)
    realistic = make_noise("realistic", {"swap_rate": 0.3})
    assert isinstance(realistic, RealisticProfile) and realistic.rates.swap_rate == 0.3
    assert realistic.options == {"swap_rate": 0.3} and realistic != make_noise("realistic")


def test_repair_counts():
    gt = torch.zeros((1, 1, 25, 2))
    gt[0, 0, JOINT_INDEX["left_wrist"]] = torch.tensor([10.0, 10.0])
    gt[0, 0, JOINT_INDEX["right_wrist"]] = torch.tensor([30.0, 10.0])
    pred = gt.clone()
    pred[0, 0, JOINT_INDEX["left_wrist"]] = torch.tensor([28.0, 10.0])  # stayed at the partner: not repaired
    pred[0, 0, JOINT_INDEX["right_wrist"]] = torch.tensor([27.0, 10.0])  # back on its own joint: repaired
    present = torch.ones((1, 1, 25), dtype=torch.bool)
    swapped = torch.zeros_like(present)
    swapped[0, 0, [JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"]]] = True
    detected = present.clone()
    detected[0, 0, 0] = False  # the nose missed: a gap, predicted exactly
    counts = repair_counts(pred, gt, present, detected, swapped)
    assert (counts.swapped, counts.repaired, counts.gaps) == (2, 1, 1)
    assert counts.swap_repair == 0.5 and counts.gap_error_px == 0.0
    assert counts.swap_error_px == pytest.approx((18 + 3) / 2)


# ----------------------------------------------------------------------------- pipeline and training


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A small synthetic prepared dataset: about 500 windows at step 1."""
    config = SyntheticConfig(min_frames=60, max_frames=80)
    out = tmp_path_factory.mktemp("realistic") / "prepared"
    prepare_dataset(generate_synthetic(8, seed=1, config=config), out, seed=0)
    return out


def test_misses_blank_the_input_maps_and_keep_the_target(data_dir):
    from posedenoise.dataset import PreparedDataset

    ds = PreparedDataset.load(data_dir)
    realistic = make_noise("realistic")
    inputs = eval_inputs(ds, Experiment(1, 1), "val", limit=40, noise=realistic)
    assert inputs.noise == realistic and inputs.input_present.shape == inputs.present.shape
    again = eval_inputs(ds, Experiment(1, 1), "val", limit=40, noise=realistic)
    np.testing.assert_array_equal(inputs.noisy_coords, again.noisy_coords)  # the same for every model
    batch = next(iterate_batches(inputs, 40, reuse_buffers=False))
    gap = batch.present & ~batch.input_present
    assert gap.any()
    assert (batch.x.flatten(-2).amax(-1)[gap] == 0).all()  # no input heatmap where the detector missed
    assert (batch.target.flatten(-2).amax(-1)[gap] > 0).all()  # but the ground truth is still there
    drawn = batch.input_present
    assert (batch.x.flatten(-2).amax(-1)[drawn] > 0).all()

    windows = TrainWindows(ds, Experiment(1, 1), seed=0, limit=32, noise=realistic, fixed_noise=True)
    first, second = next(windows.epoch(1)), next(windows.epoch(1))
    assert torch.equal(first.x, second.x)  # fixed noise: the same draw every time
    assert (first.present & ~first.input_present).any()
    chapter = eval_inputs(ds, Experiment(1, 1), "val", limit=40)
    assert chapter.noise == CHAPTER and chapter.input_present is None


def test_identity_model_equals_identity_baseline_under_realistic_noise(tmp_path, data_dir):
    torch.manual_seed(0)
    meta = {
        "model": "identity", "model_options": {}, "shift": 1, "experiment": 1, "seed": 0, "epoch": 1,
        "data_fingerprint": "x", "train_config": {"noise": "realistic", "noise_options": {"swap_rate": 0.3}},
    }  # fmt: skip
    save_checkpoint(tmp_path / "best.pt", create_model("identity"), meta)
    via_model = evaluate_checkpoint(tmp_path, data_dir, split="val", batch_size=7)
    via_coords = evaluate_baseline(
        "identity", 1, 1, data_dir, "val", noise=make_noise("realistic", {"swap_rate": 0.3})
    )
    assert via_model["noise"] == "realistic" and via_model["noise_options"] == {"swap_rate": 0.3}
    for key in ("pck", "swap_repair", "swap_error_px", "gap_error_px", "swapped_joints", "gap_joints"):
        assert via_model[key] == via_coords[key]
    assert via_model["swapped_joints"] > 0 and via_model["gap_joints"] > 0


# A swap-heavy profile with short runs, so a few seconds of training see many repairable swaps.
TRAIN_NOISE = {
    "swap_rate": 0.25,
    "swap_frames": 1.0,
    "body_swap_rate": 0.0,
    "outlier_rate": 0.0,
    "joint_miss_rate": 0.05,
    "frame_miss_rate": 0.05,
    "frame_miss_frames": 1.0,
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_dir):
    """A small conv3d (3 x 3 x 3 kernel) trained for two epochs of 160 windows with realistic noise."""
    torch.manual_seed(0)
    runs = tmp_path_factory.mktemp("runs")
    config = TrainConfig(
        model="conv3d", model_options={"kernel_size": 3}, shift=1, experiment=2, limit=160, max_epochs=2,
        lr=1e-2, noise="realistic", noise_options=TRAIN_NOISE,
    )  # fmt: skip
    result = fit(config, data_dir, runs, device="cpu")
    return runs, result


def test_realistic_runs_have_their_own_folder_and_remember_the_profile(trained):
    runs, result = trained
    assert result.run_dir == runs / "conv3d" / "1.2-realistic"
    assert (
        Run.trained(runs, "conv3d", Experiment(1, 2), make_noise("realistic", TRAIN_NOISE)).dir
        == result.run_dir
    )
    saved = read_checkpoint(result.run_dir / "best.pt")["meta"]["train_config"]
    assert saved["noise"] == "realistic" and saved["noise_options"] == TRAIN_NOISE
    config = json.loads((result.run_dir / "config.json").read_text())
    assert config["train_config"]["noise"] == "realistic"


def test_trained_model_repairs_swaps_and_fills_gaps_better_than_identity(trained, data_dir):
    runs, result = trained
    model_eval = cached_evaluation(result.run_dir, data_dir, split="test")
    identity = evaluate_baseline(
        "identity", 1, 2, data_dir, "test", noise=make_noise("realistic", TRAIN_NOISE)
    )
    assert (
        model_eval["noise"] == "realistic" and model_eval["swapped_joints"] == identity["swapped_joints"] > 50
    )
    assert model_eval["swap_repair"] > identity["swap_repair"] + 0.15
    assert model_eval["gap_error_px"] < 0.5 * identity["gap_error_px"]

    # repaired for real (a prediction landing anywhere is "closer to the true joint" half the time): the
    # error on swapped joints falls too
    assert model_eval["swap_error_px"] < 0.85 * identity["swap_error_px"]


def test_report_adds_table_5_only_for_realistic_runs(trained, data_dir, tmp_path):
    runs, _ = trained
    data = collect_results(runs, data_dir, split="test")
    assert ("conv3d", "1.2") in data.realistic and ("identity", "1.2") in data.realistic
    markdown = render_tables(data, "markdown")
    assert "Table 5:" in markdown and "Swaps repaired" in markdown
    table5 = markdown.split("Table 4:")[1]
    row = next(line for line in table5.splitlines() if line.startswith("| 3DConv"))
    cells = [c.strip().strip("*") for c in row.strip("|").split("|")][1:]
    expected = data.realistic[("conv3d", "1.2")]
    # 3 significant digits; accuracies in percent, the gap error in pixels
    assert float(cells[0]) == pytest.approx(100 * expected["pck"]["0.2"], rel=0.01)
    assert float(cells[1]) == pytest.approx(100 * expected["swap_repair"], rel=0.01)
    assert float(cells[2]) == pytest.approx(expected["gap_error_px"], rel=0.01)
    csv_text = render_tables(data, "csv")
    assert re.search(r"^5,3DConv,Gap error \(px\)\*,1\.2,[0-9.]+,px,", csv_text, re.M)
    assert "\\begin{document}" in render_tables(data, "latex")

    # without realistic runs there is no Table 5
    empty = collect_results(tmp_path / "no-runs", data_dir, split="test", evaluate_missing=False)
    assert "Table 5" not in render_tables(empty, "markdown")


def test_runs_train_with_the_chapters_noise_unless_told_and_profiles_never_share_a_folder(tmp_path):
    exp = Experiment(1, 2)
    default = TrainConfig(model="conv3d", shift=1, experiment=2).noise_profile()
    assert default == CHAPTER
    realistic = TrainConfig(
        model="conv3d", noise="realistic", noise_options={"swap_rate": 0.3}
    ).noise_profile()
    assert realistic.rates.swap_rate == 0.3
    assert Run.trained(tmp_path, "conv3d", exp, default).dir == tmp_path / "conv3d" / "1.2"
    assert Run.trained(tmp_path, "conv3d", exp, realistic).dir == tmp_path / "conv3d" / "1.2-realistic"
    baselines = tmp_path / "baselines" / "identity"
    assert (
        Run.baseline(tmp_path, "identity", exp, default).evaluation("val")
        == baselines / "1.2" / "eval-val.json"
    )
    assert Run.baseline(tmp_path, "identity", exp, realistic).dir == baselines / "1.2-realistic"
