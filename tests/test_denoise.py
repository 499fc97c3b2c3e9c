"""`denoise`: a model or a smoother applied to the user's tracks, written back in the format read."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from posedenoise.checkpoint import save_checkpoint
from posedenoise.denoise import conv3d_window_argmax, covering_window_starts, denoise_file, denoise_track
from posedenoise.errors import InputError, PoseDenoiseError
from posedenoise.heatmaps import render
from posedenoise.layout import COCO17
from posedenoise.models import create_model, predict_coords
from posedenoise.tracks import read_tracks

REAL = Path(__file__).resolve().parents[1] / "examples" / "data"


def walking(t, k=17, x0=300.0, seed=0):
    """(T, K, 2) a ~200 px body moving smoothly, and a copy with detector jitter (std 5 px)."""
    rng = np.random.default_rng(seed)
    template = rng.uniform(0, 200, size=(k, 2))
    time = np.arange(t)
    motion = np.stack([2.0 * time + 20 * np.sin(time / 6), 10 * np.cos(time / 8)], axis=1)
    clean = template[None] + motion[:, None] + np.array([x0, 150.0])
    return clean, clean + rng.normal(0, 5.0, size=clean.shape)


def coco_file(path, people, scores=None, image_ids=None):
    records = []
    t = len(people[0])
    image_ids = list(range(1, t + 1)) if image_ids is None else image_ids
    for i in range(t):
        for p, kp in enumerate(people):
            s = np.full(kp.shape[1], 0.9) if scores is None else scores[p][i]
            triplets = np.concatenate([kp[i], s[:, None]], axis=1).ravel().tolist()
            records.append(
                {
                    "image_id": image_ids[i],
                    "category_id": 1,
                    "keypoints": triplets,
                    "score": 0.8,
                    "id": f"{p}-{i}",
                }
            )
    path.write_text(json.dumps(records))
    return records


def error(a, b):
    return float(np.mean(np.linalg.norm(a - b, axis=-1)))


@pytest.mark.parametrize("name", ["savgol", "gaussian", "oneeuro"])
def test_filter_lowers_error_and_keeps_the_file(tmp_path, name):
    clean, noisy = walking(60)
    src, out = tmp_path / "in.json", tmp_path / "out.json"
    records = coco_file(src, [noisy])
    summary = denoise_file(src, out, filter=name)
    result = read_tracks(out).tracks[0].keypoints
    assert error(result, clean) < 0.85 * error(noisy, clean)
    written = json.loads(out.read_text())
    assert [(r["id"], r["score"], r["keypoints"][2::3]) for r in written] == [
        (r["id"], r["score"], r["keypoints"][2::3]) for r in records
    ]  # scores and other fields as read
    assert summary.format == "coco" and summary.records == 60
    assert summary.changed_records == 60 - (name == "oneeuro")  # One Euro starts at the first detection
    # whole-video defaults at 30 fps: a 0.4 s (13-frame) window, a 0.05 s (1.5-frame) sigma
    assert summary.delay_frames == {"savgol": 6, "gaussian": 6, "oneeuro": 0}[name]
    assert any("no frame rate" in n for n in summary.notes)
    assert summary.jitter_after < 0.5 * summary.jitter_before


def test_identity_model_maps_back_to_image_pixels(tmp_path):
    """The crop -> grid -> heatmap -> argmax -> box round trip loses at most half a grid cell."""
    clean, noisy = walking(12)
    src, out = tmp_path / "in.json", tmp_path / "out.json"
    coco_file(src, [noisy])
    summary = denoise_file(src, out, model=create_model("identity"), subpixel=False)
    result = read_tracks(out).tracks[0].keypoints
    side = (noisy.max(axis=1) - noisy.min(axis=1)).max(axis=1) * 1.2  # box side with the 10% margins
    half_cell = (side / 55 / 2)[:, None]
    moved = np.linalg.norm(result - noisy, axis=-1)
    eyes = [COCO17.index("left_eye"), COCO17.index("right_eye")]
    body = [j for j in range(17) if j not in eyes]
    assert (moved[:, body] <= half_cell * np.sqrt(2) + 1e-6).all() and moved[:, body].max() > 0
    np.testing.assert_array_equal(result[:, eyes], noisy[:, eyes])  # not in the 25-joint layout: untouched
    assert summary.passthrough == ["left_eye", "right_eye"]
    assert (summary.delay_frames, summary.lookahead_frames) == (2, 4)


def test_conv3d_batches_windows_and_averages_overlaps():
    torch.manual_seed(0)
    model = create_model("conv3d").eval()
    _, noisy = walking(7, k=25)
    present = np.ones((7, 25), dtype=bool)
    present[3, 3] = False
    one = denoise_track(noisy, present, model, batch_size=1)
    many = denoise_track(noisy, present, model, batch_size=64)
    np.testing.assert_allclose(one, many, rtol=1e-5, atol=1e-3)
    assert np.isnan(one[3, 3]).all() and np.isfinite(np.delete(one.reshape(-1, 2), 3 * 25 + 3, axis=0)).all()
    filled = denoise_track(noisy, present, model, fill_missing=True)
    assert np.isfinite(filled).all()  # the joint is seen in the other frames of its windows
    assert np.isnan(denoise_track(noisy[:4], present[:4], model)).all()  # shorter than a window


def test_conv3d_by_frames_equals_the_model_window_by_window():
    """The fast path (one 2-D convolution per frame, summed over taps) gives the model's own argmax."""
    torch.manual_seed(1)
    model = create_model("conv3d").eval()
    with torch.no_grad():
        model.conv.bias.uniform_(-5, 5)  # non-zero bias, and some all-negative maps for the ReLU case
    coords = torch.rand(14, 25, 2) * 55
    maps = render(coords, torch.rand(14, 25) > 0.2, 1.0)  # (F, 25, 56, 56)
    consecutive = torch.arange(6)[:, None] + torch.arange(5)  # step 1, a view per tap
    step2 = torch.tensor([[0, 2, 4, 6, 8], [1, 3, 5, 7, 9], [5, 7, 9, 11, 13]])  # rows gathered
    with torch.inference_mode():
        for windows in (consecutive, step2):
            fast = conv3d_window_argmax(model.conv, maps, windows)
            np.testing.assert_array_equal(fast.numpy(), predict_coords(model, maps[windows]).numpy())


def test_covering_window_starts_cover_every_frame():
    for length, step, stride in [(5, 1, 1), (23, 1, 3), (10, 2, 1), (31, 2, 5), (17, 1, 5)]:
        starts = covering_window_starts(length, step, stride)
        covered = np.zeros(length, bool)
        for s in starts:
            covered[s + step * np.arange(5)] = True
        assert covered.all() and starts.max() + 4 * step <= length - 1
    assert len(covering_window_starts(23, 1, 1)) == 19 and len(covering_window_starts(4, 1, 1)) == 0


def test_checkpoint_of_experiment_3_uses_step_2_and_short_tracks_are_left(tmp_path):
    torch.manual_seed(0)
    model = create_model("conv3d")
    ckpt = tmp_path / "best.pt"
    meta = {
        "model": "conv3d",
        "model_options": {},
        "shift": 1,
        "experiment": 3,
        "seed": 0,
        "epoch": 1,
        "data_fingerprint": "x",
        "train_config": {},
    }
    save_checkpoint(ckpt, model, meta)
    long_clean, long_noisy = walking(12, x0=100)
    _, short = walking(7, x0=900, seed=1)
    src, out = tmp_path / "in.json", tmp_path / "out.json"
    # two people in frames 1-7, then only the first: tracks follow boxes, the short one stays as it was
    records = coco_file(src, [long_noisy[:7], short])
    extra = coco_file(tmp_path / "tail.json", [long_noisy[7:]], image_ids=list(range(8, 13)))
    src.write_text(json.dumps(records + extra))
    summary = denoise_file(src, out, ckpt)
    assert summary.step == 2 and (summary.delay_frames, summary.lookahead_frames) == (4, 8)
    assert "experiment 1.3" in summary.method
    assert summary.tracks == 2
    assert summary.short_segments == [{"track": 1, "first": 1, "last": 7, "frames": 7, "needs": 10}]
    tracks = {t.track_id: t for t in read_tracks(out).tracks}
    np.testing.assert_array_equal(tracks[1].keypoints, short)
    assert np.isfinite(tracks[0].keypoints).all() and (tracks[0].keypoints != long_noisy).any()


def test_low_scores_are_missing_kept_or_filled(tmp_path):
    clean, noisy = walking(30)
    scores = np.full((30, 17), 0.9)
    wrist = COCO17.index("left_wrist")
    scores[10:13, wrist] = 0.1
    noisy[10:13, wrist] += 80  # what a detector reports when unsure
    src = tmp_path / "in.json"
    coco_file(src, [noisy], scores=[scores])
    kept = denoise_file(src, tmp_path / "kept.json", filter="savgol", min_score=0.3, fill_missing=False)
    assert kept.missing_joints == 3 and kept.filled_joints == 0
    np.testing.assert_array_equal(
        read_tracks(tmp_path / "kept.json").tracks[0].keypoints[10:13, wrist], noisy[10:13, wrist]
    )
    filled = denoise_file(src, tmp_path / "filled.json", filter="savgol", min_score=0.3)  # the default
    assert filled.filled_joints == 3
    got = read_tracks(tmp_path / "filled.json").tracks[0].keypoints[10:13, wrist]
    assert error(got, clean[10:13, wrist]) < 15 < error(noisy[10:13, wrist], clean[10:13, wrist])


def test_jump_splits_the_track_instead_of_smoothing_across(tmp_path):
    _, a = walking(40, x0=100)
    _, b = walking(40, x0=1200, seed=1)
    switched = np.concatenate([a[:20], b[20:]])  # the tracker jumps to another person at frame 21
    src, out = tmp_path / "in.json", tmp_path / "out.json"
    coco_file(src, [switched])
    summary = denoise_file(src, out, filter="gaussian", filter_params={"sigma_s": 2 / 30})
    assert [(s["frame"], s["reason"]) for s in summary.splits] == [(21, "jump")]
    assert summary.segments == 2
    result = read_tracks(out).tracks[0].keypoints
    assert np.abs(result[19] - switched[19]).max() < 30  # not dragged towards the other person (~1000 px)
    assert np.abs(result[20] - switched[20]).max() < 30
    assert any("split at frame 21" in line for line in summary.lines())


def test_array_and_csv_inputs(tmp_path):
    clean, noisy = walking(20, k=25)
    np.save(tmp_path / "t.npy", noisy)
    summary = denoise_file(
        tmp_path / "t.npy", tmp_path / "o.npy", filter="savgol", filter_params={"window_s": 7 / 30}
    )
    assert summary.format == "npy" and summary.layout == "unnamed25"  # a filter needs no joint names
    assert error(np.load(tmp_path / "o.npy"), clean) < error(noisy, clean)
    rows = ["frame,track_id,joint,x,y"]
    rows += [
        f"{t},7,{j},{float(noisy[t, j, 0])!r},{float(noisy[t, j, 1])!r}" for t in range(20) for j in range(25)
    ]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    denoise_file(tmp_path / "t.csv", tmp_path / "o.csv", model=create_model("identity"), layout="layout25")
    back = read_tracks(tmp_path / "o.csv").tracks[0]
    assert back.track_id == 7 and error(back.keypoints, noisy) < 3


def test_one_frame_video_and_bad_calls(tmp_path):
    _, noisy = walking(1)
    src = tmp_path / "one.json"
    coco_file(src, [noisy])
    summary = denoise_file(src, tmp_path / "o.json", model=create_model("identity"))
    assert summary.changed_records == 0 and summary.short_segments[0]["frames"] == 1
    assert json.loads((tmp_path / "o.json").read_text()) == json.loads(src.read_text())
    with pytest.raises(PoseDenoiseError, match="at most one"):
        denoise_file(src, tmp_path / "x.json", tmp_path / "c.pt", filter="savgol")
    with pytest.raises(PoseDenoiseError, match="window_s > 0"):
        denoise_file(src, tmp_path / "x.json", filter="savgol", filter_params={"window_s": 0})
    with pytest.raises(PoseDenoiseError, match="savgol has no parameter window;"):
        denoise_file(src, tmp_path / "x.json", filter="savgol", filter_params={"window": 7})
    with pytest.raises(PoseDenoiseError, match="unknown filter"):
        denoise_file(src, tmp_path / "x.json", filter="wiener")
    with pytest.raises(InputError, match="checkpoint not found"):
        denoise_file(src, tmp_path / "x.json", tmp_path / "c.pt")
    with pytest.raises(InputError, match=r"convert to \.csv or \.json"):
        denoise_file(src, tmp_path / "x.npz", filter="savgol")
    assert not (tmp_path / "x.npz").exists()


def test_real_blazepose_output(tmp_path):
    out = tmp_path / "smooth.json"
    summary = denoise_file(
        REAL / "sports2d_demo_raw.json", out, filter="savgol", min_score=0.5, fill_missing=False
    )
    assert [s["frame"] for s in summary.splits] == [172, 203]
    before = read_tracks(REAL / "sports2d_demo_raw.json").tracks[0]
    after = read_tracks(out).tracks[0]
    assert after.keypoints.shape == (221, 33, 2)
    low = before.scores < 0.5
    np.testing.assert_array_equal(after.keypoints[low], before.keypoints[low])
    jitter = lambda kp: np.nanmean(np.abs(np.diff(kp[:166], n=2, axis=0)))  # noqa: E731 (first segment)
    assert jitter(after.keypoints) < 0.7 * jitter(before.keypoints)
    doc = json.loads(out.read_text())
    assert (doc["fps"], doc["layout"], len(doc["results"])) == (30.0, "blazepose33", 221)
