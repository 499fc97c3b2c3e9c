"""The path for real tracks: sub-pixel heatmaps, joints a model never learned, the real-track model
(`posetcn`), its training and the shipped weights."""

import json

import numpy as np
import pytest
import torch

from posedenoise.checkpoint import save_checkpoint
from posedenoise.denoise import denoise_file
from posedenoise.errors import InputError, PoseDenoiseError
from posedenoise.heatmaps import argmax_subpixel, render_subpixel
from posedenoise.layout import BLAZEPOSE33, COCO17, JOINT_INDEX
from posedenoise.models import create_model
from posedenoise.trackdata import (
    CleanTracks,
    eval_detector,
    interpolate_missing,
    simulate_detector,
    synthetic_clean_tracks,
    track_features,
)
from posedenoise.tracks import read_tracks
from posedenoise.tracktrain import (
    TrackTrainConfig,
    fit_tracks,
    predict_tracks,
    swap_loss,
    track_loss,
    track_scores,
)


def person(t, k, height, seed=0):
    """(T, K, 2) a person `height` pixels tall walking across the picture, with 3 px of jitter."""
    rng = np.random.default_rng(seed)
    template = rng.uniform(0, 1, size=(k, 2)) * np.array([0.4 * height, height])
    time = np.arange(t)[:, None]
    motion = np.concatenate([4.0 * time + 30 * np.sin(time / 7), 15 * np.cos(time / 9)], axis=1)
    return template[None] + motion[:, None] + np.array([200.0, 80.0]) + rng.normal(0, 3.0, (t, k, 2))


def coco_results(path, keypoints, scores=None, layout=None):
    records = []
    for i, kp in enumerate(keypoints):
        s = np.full(len(kp), 0.95) if scores is None else scores[i]
        triplets = np.concatenate([kp, s[:, None]], axis=1).ravel().tolist()
        records.append({"image_id": i + 1, "category_id": 1, "keypoints": triplets, "score": 0.9})
    doc = records if layout is None else {"layout": layout, "fps": 30.0, "results": records}
    path.write_text(json.dumps(doc))


def moved(a, b):
    return np.linalg.norm(a - b, axis=-1)


# ----------------------------------------------------------------------------- sub-pixel path


def test_subpixel_maps_decode_to_their_float_position():
    coords = torch.rand(200, 25, 2) * 50 + 3
    maps = render_subpixel(coords, torch.ones(200, 25, dtype=torch.bool), 1.0)
    assert (argmax_subpixel(maps) - coords).abs().max() < 1e-3


def test_identity_round_trip_on_a_large_person_costs_under_half_a_pixel(tmp_path):
    track = person(30, 17, height=900)
    src = tmp_path / "in.json"
    coco_results(src, track)
    exact = denoise_file(src, tmp_path / "sub.json", "identity")
    assert "identity" in exact.method
    rounded = denoise_file(src, tmp_path / "round.json", "identity", subpixel=False)
    body = [j for j, name in enumerate(COCO17) if "eye" not in name]
    sub = moved(read_tracks(tmp_path / "sub.json").tracks[0].keypoints, track)[:, body]
    chapter = moved(read_tracks(tmp_path / "round.json").tracks[0].keypoints, track)[:, body]
    assert sub.max() < 0.5
    assert chapter.mean() > 3.0  # the chapter's rounding: a grid pixel is ~20 image pixels here
    assert rounded.changed_records == 30


def test_a_model_leaves_joints_it_never_learned_as_detected(tmp_path):
    torch.manual_seed(0)
    ckpt = tmp_path / "best.pt"
    trained = [JOINT_INDEX[n] for n in ("nose", "left_shoulder", "right_shoulder", "left_hip", "right_hip")]
    meta = {"model": "conv3d", "model_options": {}, "shift": 1, "experiment": 2, "seed": 0, "epoch": 1,
            "data_fingerprint": "x", "train_config": {}, "trained_joints": trained}  # fmt: skip
    save_checkpoint(ckpt, create_model("conv3d"), meta)
    track = person(12, 33, height=500)
    src, out = tmp_path / "in.json", tmp_path / "out.json"
    coco_results(src, track, layout="blazepose33")
    summary = denoise_file(src, out, ckpt)
    after = read_tracks(out).tracks[0].keypoints
    heel = BLAZEPOSE33.index("left_heel")
    np.testing.assert_array_equal(after[:, heel], track[:, heel])
    assert "left_heel" in summary.passthrough and "left_shoulder" not in summary.passthrough
    assert any("left_heel" in note for note in summary.notes)
    assert (
        after[:, BLAZEPOSE33.index("left_shoulder")] != track[:, BLAZEPOSE33.index("left_shoulder")]
    ).any()


def test_an_architecture_with_weights_is_not_taken_for_a_trained_model(tmp_path):
    src = tmp_path / "in.json"
    coco_results(src, person(8, 17, 300))
    with pytest.raises(PoseDenoiseError, match="not a trained model"):
        denoise_file(src, tmp_path / "out.json", "conv3d")


# ----------------------------------------------------------------------------- posetcn and its data


def test_gaps_are_interpolated_and_held_at_the_ends():
    coords = np.zeros((1, 5, 1, 2))
    coords[0, :, 0, 0] = [0, 10, 20, 30, 40]
    present = np.array([[[False], [True], [False], [True], [False]]])
    filled = interpolate_missing(coords, present)
    np.testing.assert_allclose(filled[0, :, 0, 0], [10, 10, 20, 30, 30])
    assert np.isnan(interpolate_missing(coords, np.zeros_like(present))).all()  # never seen


def test_an_untrained_posetcn_is_the_identity_on_detected_joints():
    torch.manual_seed(0)
    model = create_model("posetcn", channels=16)
    clean = synthetic_clean_tracks(4, seed=3, frames=40)
    noisy = eval_detector(clean, seed=3, level=1.0)
    pred = predict_tracks(model, noisy.coords, noisy.present, noisy.confidence)
    np.testing.assert_allclose(pred[noisy.present], noisy.coords[noisy.present], atol=1e-6)
    assert np.isfinite(pred).all()  # every joint gets an estimate, unseen ones the body's centre


def test_simulated_detector_is_deterministic_and_scales_with_the_level():
    clean = synthetic_clean_tracks(8, seed=5, frames=48)
    a, b = eval_detector(clean, seed=1, level=1.0), eval_detector(clean, seed=1, level=1.0)
    np.testing.assert_array_equal(a.coords, b.coords)
    low = eval_detector(clean, seed=1, level=0.1)
    err = lambda n: np.median(moved(n.coords, clean.coords)[n.present & ~n.swapped])  # noqa: E731
    assert err(low) < 0.3 * err(a)
    assert a.swapped.any() and (~a.present & clean.visible).any()  # swaps and misses happen
    features = track_features(a.coords, a.present, a.confidence).features
    assert features.shape == (len(clean), 48, 25, 10) and np.isfinite(features).all()


def test_training_overfits_a_handful_of_tracks_and_resumes_exactly(tmp_path):
    config = TrackTrainConfig(
        model_options={"channels": 16, "dilations": (1, 2, 4)}, videos=4, frames=40, steps=120, batch_size=4,
        val_videos=2, val_every=60, lr=5e-3, warmup=5, fixed_noise=True,
    )  # fmt: skip
    full = fit_tracks(config, tmp_path / "full")
    history = torch.load(tmp_path / "full" / "last.pt", weights_only=True)["history"]
    assert history[-1]["train_loss"] < 0.9 * history[0]["train_loss"]

    def killed_midway(event):
        if event["event"] == "tracks_val" and event["step"] == 60:
            raise KeyboardInterrupt  # as a Ctrl-C right after last.pt was written

    with pytest.raises(KeyboardInterrupt):
        fit_tracks(config, tmp_path / "resumed", callback=killed_midway)
    with pytest.raises(PoseDenoiseError, match="--resume"):
        fit_tracks(config, tmp_path / "resumed")
    fit_tracks(config, tmp_path / "resumed", resume=True)
    a = torch.load(full.run_dir / "best.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "resumed" / "best.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_swap_repair_is_scored_against_the_partner():
    clean = synthetic_clean_tracks(2, seed=9, frames=30)
    noisy = eval_detector(clean, seed=9, level=0.2)
    assert track_scores(noisy.coords, clean, noisy)["swap_repair"] < 0.5  # the detection sits at the partner
    assert track_scores(clean.coords.astype(np.float64), clean, noisy)["swap_repair"] == 1.0
    g = torch.Generator().manual_seed(0)
    batch = CleanTracks(clean.coords, clean.visible, clean.torso)
    assert simulate_detector(batch, g).coords.shape == clean.coords.shape


def test_an_untrained_swap_detector_changes_nothing_and_init_from_fills_it_fresh(tmp_path):
    from posedenoise.checkpoint import load_weights_into

    torch.manual_seed(0)
    plain = create_model("posetcn", channels=16, dilations=(1, 2))
    torch.nn.init.normal_(plain.head.weight, std=0.1)  # a "trained" filter that moves joints
    save_checkpoint(tmp_path / "plain.pt", plain, {"model": "posetcn", "model_options": {}})
    with_detector = create_model("posetcn", channels=16, dilations=(1, 2), swap_channels=8)
    load_weights_into(with_detector, tmp_path / "plain.pt", "posetcn")  # the detector starts fresh
    clean = synthetic_clean_tracks(2, seed=4, frames=40)
    noisy = eval_detector(clean, seed=4, level=1.0)
    a = predict_tracks(plain, noisy.coords, noisy.present, noisy.confidence)
    b = predict_tracks(with_detector, noisy.coords, noisy.present, noisy.confidence)
    np.testing.assert_allclose(a, b, atol=1e-5)
    other = create_model("posetcn", channels=8, dilations=(1, 2))
    with pytest.raises(InputError, match="weights do not fit"):
        load_weights_into(other, tmp_path / "plain.pt", "posetcn")


def test_a_detected_swap_is_put_back_before_the_filter():
    from posedenoise.layout import FLIP_PAIRS
    from posedenoise.models.posetcn import unswap

    clean = synthetic_clean_tracks(1, seed=4, frames=20)
    noisy = eval_detector(clean, seed=4, level=0.1)
    feats = track_features(noisy.coords, noisy.present, noisy.confidence)
    x = torch.from_numpy(feats.features)
    swapped = torch.zeros(x.shape[:3], dtype=torch.bool)
    left, right = JOINT_INDEX["left_knee"], JOINT_INDEX["right_knee"]
    swapped[0, 5:9, [left, right]] = True
    moved, shift = unswap(x, swapped, torch.as_tensor(FLIP_PAIRS))
    torch.testing.assert_close(moved[0, 5:9, left, :4], x[0, 5:9, right, :4])  # position, score, detected
    torch.testing.assert_close(moved[0, 5:9, left, 4:8], x[0, 5:9, left, :4])  # its partner is the other
    assert torch.equal(moved[0, :5], x[0, :5]) and (shift[0, :5] == 0).all()
    torch.testing.assert_close(x[..., :2] + shift, moved[..., :2])


def test_the_acceleration_loss_penalises_an_estimate_that_trembles_around_the_truth():
    clean = synthetic_clean_tracks(2, seed=6, frames=40)
    noisy = eval_detector(clean, seed=6, level=0.5)
    feats = track_features(noisy.coords, noisy.present, noisy.confidence)
    target = (clean.coords - feats.filled) / feats.scale[:, None, None, None]
    offset = np.full(target.shape, 0.02)
    steady = torch.from_numpy(target + offset).float()  # off by a constant
    tremble = torch.from_numpy(target + offset * np.where(np.arange(40) % 2, 1, -1)[None, :, None, None])
    loss = lambda c, w: track_loss(c.float(), feats, clean.coords, noisy.present, w).item()  # noqa: E731
    assert loss(steady, 0.0) == pytest.approx(loss(tremble, 0.0), rel=1e-4)  # same distance to the truth
    assert loss(tremble, 1.0) > loss(steady, 1.0) + 0.05  # but it shakes


def test_the_swap_loss_counts_pairs_with_a_detection():
    logits = torch.full((1, 3, 25), -5.0)
    swapped = np.zeros((1, 3, 25), dtype=bool)
    present = np.ones((1, 3, 25), dtype=bool)
    low = swap_loss(logits, swapped, present).item()
    swapped[0, 1, [JOINT_INDEX["left_knee"], JOINT_INDEX["right_knee"]]] = True
    assert swap_loss(logits, swapped, present).item() > low + 0.1
    present[0, 1, [JOINT_INDEX["left_knee"], JOINT_INDEX["right_knee"]]] = False
    assert swap_loss(logits, swapped, present).item() == pytest.approx(low)  # nothing seen, nothing scored


# ----------------------------------------------------------------------------- the shipped model


def test_the_shipped_model_loads_by_name_with_its_card():
    from posedenoise.checkpoint import read_checkpoint
    from posedenoise.shipped import list_shipped, shipped_models

    assert "posetcn" in list_shipped()
    card = {m.name: m for m in shipped_models()}["posetcn"].card
    assert card["summary"] and card["doc"] == "docs/models/posetcn.md"
    assert read_checkpoint("posetcn")["meta"]["model"] == "posetcn"  # a name wherever a path is accepted
    rows = {r["method"]: r for r in card["evaluations"][0]["rows"]}
    best = max(rows[m]["pck@0.2"] for m in ("gaussian", "savgol", "oneeuro"))
    assert rows["model"]["pck@0.2"] > best  # what the card says it measured


def test_the_shipped_model_beats_every_tuned_smoother_on_held_out_tracks():
    from posedenoise.checkpoint import load_model
    from posedenoise.tracktrain import compare_on_tracks

    model, _ = load_model("posetcn")
    clean = synthetic_clean_tracks(24, seed=777)  # a seed no training or card evaluation used
    rows = {
        r["method"]: r for r in compare_on_tracks(model, clean, eval_detector(clean, seed=777, level=1.0))
    }
    for alpha in ("0.05", "0.1", "0.2"):
        smoothers = max(rows[m][f"pck@{alpha}"] for m in ("gaussian", "savgol", "oneeuro"))
        assert rows["model"][f"pck@{alpha}"] > smoothers, alpha
    assert rows["model"]["swap_repair"] >= 0.75 > max(rows[m]["swap_repair"] for m in ("gaussian", "savgol"))


def test_the_shipped_model_puts_back_an_injected_whole_body_swap(tmp_path):
    clean = synthetic_clean_tracks(40, seed=4242, frames=96)
    wide = np.linalg.norm(clean.coords[:, :, 3] - clean.coords[:, :, 4], axis=-1).min(axis=1)  # shoulders
    i = int(np.argmax(wide / clean.torso.mean(axis=1)))  # the person seen most squarely from the front
    track = clean.coords[i].astype(np.float64) + np.random.default_rng(0).normal(0, 2.0, (96, 25, 2))
    detected = track.copy()
    swap = slice(40, 46)
    from posedenoise.layout import FLIP_PAIRS

    detected[swap] = detected[swap][:, FLIP_PAIRS]  # every left/right pair inverted for six frames
    src, out = tmp_path / "in.json", tmp_path / "out.json"
    coco_results(src, detected, layout="layout25")
    summary = denoise_file(src, out)  # the shipped model finds the swap itself
    assert "shipped real-track model posetcn" in " ".join(summary.notes)
    assert "finding left/right swaps itself" in summary.method
    result = read_tracks(out).tracks[0].keypoints
    own = moved(result[swap], track[swap])
    other = moved(result[swap], track[swap][:, FLIP_PAIRS])
    apart = moved(track[swap], track[swap][:, FLIP_PAIRS]) > 0.3 * clean.torso[i, swap, None]
    assert (own < other)[apart].mean() >= 0.8  # pairs far enough apart for a swap to be told from jitter


def test_on_the_real_sample_the_whole_body_swap_is_put_back_without_inventing_motion():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "posetcn_real_sample.py"
    spec = importlib.util.spec_from_file_location("posetcn_real_sample", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    if not any(p.exists() for p in example.CANDIDATES):
        pytest.skip("the real MediaPipe sample is not in this checkout")
    figures = example.main([])
    assert figures["swap_68_72_repaired_model"] >= 0.8 > figures["swap_68_72_repaired_raw"]
    assert figures["jitter_model"] <= figures["jitter_gaussian"] < 0.5 * figures["jitter_raw"]
    assert figures["model_vs_gaussian_px_median"] < 6.0  # elsewhere a smoothing, no invented motion


def test_a_shipped_study_model_is_evaluated_by_name_and_leaves_the_package_alone(tmp_path):
    from typer.testing import CliRunner

    from posedenoise.cli import app
    from posedenoise.evaluate import cached_evaluation
    from posedenoise.shipped import WEIGHTS_DIR, list_shipped

    study = [n for n in list_shipped() if n != "posetcn"]
    if not study:
        pytest.skip("no shipped study model in this checkout")
    data = tmp_path / "data"
    done = CliRunner().invoke(app, ["prepare", "--synthetic", "--synthetic-videos", "12", "--out", str(data)])
    assert done.exit_code == 0, done.output
    before = sorted(p.name for p in WEIGHTS_DIR.iterdir())
    result = cached_evaluation(study[0], data, "test", limit=8)
    assert result["windows"] == 8
    assert sorted(p.name for p in WEIGHTS_DIR.iterdir()) == before  # no cache written into the package


def test_the_reported_training_loss_is_a_mean_per_step_when_training_ends_between_validations(tmp_path):
    config = TrackTrainConfig(
        model_options={"channels": 8, "dilations": (1,)}, videos=2, frames=40, steps=5, batch_size=2,
        val_videos=2, val_every=250,
    )  # fmt: skip
    fit_tracks(config, tmp_path / "run")
    history = torch.load(tmp_path / "run" / "last.pt", weights_only=True)["history"]
    assert [h["step"] for h in history] == [5]
    assert 0.02 < history[0]["train_loss"] < 2  # summed over 5 steps, divided by 5 (not by 250)
