import json

import numpy as np
import pytest

from posedenoise.dataset import PreparedDataset
from posedenoise.errors import InputError
from posedenoise.geometry import crop_to_grid, torso_diameter
from posedenoise.layout import JOINT_INDEX
from posedenoise.prepare import disjoint_window_starts, prepare_dataset
from posedenoise.sources import Track


def make_track(name, t, seed=0, present_frac=1.0, frames=None):
    rng = np.random.default_rng(seed)
    base = rng.uniform(100, 300, size=(1, 25, 2))
    coords = base + np.cumsum(rng.normal(0, 1, size=(t, 25, 2)), axis=0)
    present = np.ones((t, 25), dtype=bool)
    present[:, 9:15] = False  # joints the datasets lack
    if present_frac < 1:
        present &= rng.random((t, 25)) < present_frac
    frames = np.arange(1, t + 1) if frames is None else np.asarray(frames)
    return Track(name=name, source="custom", fps=30.0, coords=coords, present=present, frames=frames)


def test_crop_box_is_square_with_margin():
    coords = np.zeros((1, 25, 2))
    present = np.zeros((1, 25), dtype=bool)
    coords[0, 0], coords[0, 1] = (100, 200), (140, 300)  # 40 wide, 100 tall
    present[0, :2] = True
    grid, boxes, keep = crop_to_grid(coords, present, margin=0.1)
    assert keep[0]
    x0, y0, side = boxes[0]
    assert side == pytest.approx(120)  # longer side 100, +10% on each side
    assert (x0, y0) == pytest.approx((120 - 60, 250 - 60))
    # the tall extent spans the grid minus the margins: 10/120*55 .. 110/120*55
    assert grid[0, 0, 1] == pytest.approx(10 / 120 * 55) and grid[0, 1, 1] == pytest.approx(110 / 120 * 55)
    assert grid[0, 0, 0] == pytest.approx((100 - 60) / 120 * 55)
    assert (grid[0, 2:] == 0).all()


def test_crop_skips_single_joint_and_degenerate_frames():
    coords = np.full((3, 25, 2), 50.0)
    present = np.zeros((3, 25), dtype=bool)
    present[0, 0] = True  # one joint
    present[1, :3] = True  # three joints on one spot: zero-size box
    present[2, :2] = True
    coords[2, 1] = (60, 70)
    _, _, keep = crop_to_grid(coords, present)
    assert keep.tolist() == [False, False, True]


def test_torso_diameter_and_undefined_when_a_joint_is_missing():
    grid = np.zeros((2, 25, 2), dtype=np.float32)
    present = np.ones((2, 25), dtype=bool)
    grid[:, JOINT_INDEX["left_shoulder"]] = (10, 10)
    grid[:, JOINT_INDEX["left_hip"]] = (10, 30)  # 20
    grid[:, JOINT_INDEX["right_shoulder"]] = (20, 10)
    grid[:, JOINT_INDEX["right_hip"]] = (20, 40)  # 30
    present[1, JOINT_INDEX["right_hip"]] = False
    torso = torso_diameter(grid, present)
    assert torso[0] == pytest.approx(25) and np.isnan(torso[1])


def test_windows_never_cross_gaps_or_share_frames():
    frames = np.array([*range(0, 23), *range(30, 42)])  # a gap after frame 22
    for step in (1, 2):
        starts = disjoint_window_starts(frames, step)
        rows = starts[:, None] + step * np.arange(5)
        assert rows.max() < len(frames)
        f = frames[rows]
        assert (np.diff(f, axis=1) == step).all()  # consecutive frames of one run at this step
        assert len(np.unique(rows)) == rows.size  # no frame in two windows
    assert len(disjoint_window_starts(frames, 1)) == 4 + 2  # 23 // 5 + 12 // 5
    assert sorted((disjoint_window_starts(frames, 2) % 2).tolist()).count(1) >= 1  # both phases used


def test_prepare_writes_the_format_and_split_fractions(tmp_path):
    tracks = [make_track(f"v{i}", 60 + 7 * i, seed=i) for i in range(20)]
    summary = prepare_dataset(tracks, tmp_path / "prep", seed=3)
    ds = PreparedDataset.load(tmp_path / "prep")
    manifest = json.loads((tmp_path / "prep" / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["counts"]["frames"] == summary.frames == len(ds.coords)
    assert ds.coords.dtype == np.float32 and ds.coords.shape[1:] == (25, 2)
    assert 0 <= ds.coords[ds.present].min() and ds.coords[ds.present].max() <= 55
    for step in (1, 2):
        labels = ds.splits[step]
        fractions = np.bincount(labels, minlength=3) / len(labels)
        np.testing.assert_allclose(fractions, [0.6, 0.2, 0.2], atol=0.02)
        rows = ds.window_rows(ds.starts[step], step)
        assert (ds.video[rows] == ds.video[rows[:, :1]]).all()  # never across videos
        assert len(np.unique(rows)) == rows.size
        all_split = np.concatenate([ds.split_window_starts(step, s) for s in ("train", "val", "test")])
        assert len(np.unique(all_split)) == len(all_split) == len(labels)  # no window in two subsets


def test_prepare_is_deterministic_and_split_by_video_has_no_leak(tmp_path):
    tracks = [make_track(f"v{i}", 50 + 5 * i, seed=i) for i in range(30)]
    prepare_dataset(tracks, tmp_path / "a", seed=1)
    prepare_dataset(tracks, tmp_path / "b", seed=1)
    a, b = PreparedDataset.load(tmp_path / "a"), PreparedDataset.load(tmp_path / "b")
    assert a.fingerprint() == b.fingerprint()
    np.testing.assert_array_equal(a.splits[1], b.splits[1])
    prepare_dataset(tracks, tmp_path / "c", seed=1, split_by="video")
    c = PreparedDataset.load(tmp_path / "c")
    videos = [set(c.video[c.split_window_starts(1, s)].tolist()) for s in ("train", "val", "test")]
    assert not (videos[0] & videos[1]) and not (videos[0] & videos[2]) and not (videos[1] & videos[2])


def test_failed_prepare_leaves_previous_preparation_intact(tmp_path):
    out = tmp_path / "prep"
    prepare_dataset([make_track("v", 80)], out)
    before = (out / "manifest.json").read_text()
    bad = make_track("bad", 40)
    bad.coords[3, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        prepare_dataset([make_track("w", 80), bad], out)
    assert (out / "manifest.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prep"]


def test_videos_shorter_than_a_window_are_reported(tmp_path):
    with pytest.raises(InputError, match="short: every video is shorter than a window"):
        prepare_dataset([make_track("short", 4)], tmp_path / "p")
    summary = prepare_dataset([make_track("short", 4), make_track("long", 40)], tmp_path / "p")
    assert any("shorter than a window" in n and n.endswith(": short") for n in summary.notes)


def test_missing_or_unfinished_preparation_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        PreparedDataset.load(tmp_path / "nope")
    (tmp_path / "half").mkdir()
    with pytest.raises(InputError, match="manifest"):
        PreparedDataset.load(tmp_path / "half")
