"""The synthetic source: deterministic, both source layouts, smooth people with rigid bones, occlusions in
runs, and the chapter's scale on the heatmap grid."""

import numpy as np
import pytest

from posedenoise.geometry import crop_to_grid, torso_diameter
from posedenoise.layout import COCO17_TO_25, JOINT_INDEX, NUM_JOINTS, PENN13_TO_25
from posedenoise.sources.synthetic import (
    BATCH_VIDEOS,
    MOTIONS,
    SyntheticConfig,
    generate_synthetic,
    simulate_batch,
    videos_for_frames,
)

COCO_JOINTS = COCO17_TO_25 >= 0
PENN_JOINTS = PENN13_TO_25 >= 0


@pytest.fixture(scope="module")
def tracks():
    return list(generate_synthetic(videos=160, seed=3))


def test_same_seed_same_tracks_and_prefix_stable():
    first = list(generate_synthetic(videos=BATCH_VIDEOS + 6, seed=11))
    again = list(generate_synthetic(videos=BATCH_VIDEOS + 6, seed=11))
    fewer = list(generate_synthetic(videos=BATCH_VIDEOS + 2, seed=11))
    other = list(generate_synthetic(videos=4, seed=12))
    for a, b in zip(first, again, strict=True):
        assert a.name == b.name and a.action == b.action
        np.testing.assert_array_equal(a.coords, b.coords)
        np.testing.assert_array_equal(a.present, b.present)
    for a, b in zip(fewer, first, strict=False):  # video i does not depend on how many are asked for
        np.testing.assert_array_equal(a.coords, b.coords)
        np.testing.assert_array_equal(a.present, b.present)
    assert any(
        a.coords.shape != b.coords.shape or not np.array_equal(a.coords, b.coords)
        for a, b in zip(other, first, strict=False)
    )


def test_tracks_are_valid_and_in_both_source_layouts(tracks):
    coco = [t for t in tracks if t.name.startswith("synth_coco_")]
    penn = [t for t in tracks if t.name.startswith("synth_penn_")]
    assert len(coco) == len(penn) == len(tracks) // 2
    for track in tracks:
        track.validate()
        assert track.source == "synthetic" and track.fps == 30.0
        assert track.coords.shape == (len(track.frames), NUM_JOINTS, 2)
        np.testing.assert_array_equal(track.frames, np.arange(1, len(track.frames) + 1))
        assert 40 <= len(track.frames) <= 190
        assert track.action in {m.action for m in MOTIONS.values()}
    coco_present = np.concatenate([t.present for t in coco])
    penn_present = np.concatenate([t.present for t in penn])
    assert not coco_present[:, ~COCO_JOINTS].any()  # no hands, feet or heels in COCO-17
    assert not penn_present[:, ~PENN_JOINTS].any()  # no ears in Penn Action
    assert coco_present[:, JOINT_INDEX["left_ear"]].mean() > 0.3
    for present in (coco_present, penn_present):
        for name in ("nose", "left_shoulder", "right_wrist", "left_hip", "right_knee", "left_ankle"):
            assert present[:, JOINT_INDEX[name]].mean() > 0.3, name
    # absent joints carry no stale coordinates
    for track in tracks:
        assert (track.coords[~track.present] == 0).all()
    assert {t.action for t in penn} >= {"pushup", "squat", "tennis_serve", "baseball_pitch"}
    assert {t.action for t in coco} >= {"toprock", "footwork", "powermove"}


def test_penn_nose_is_the_head_centre_above_the_face():
    batch = simulate_batch(SyntheticConfig(seed=5), 0)
    penn_track = generate_synthetic(videos=2, seed=5)
    next(penn_track)
    track = next(penn_track)  # video 1: Penn layout
    num_frames = batch.lengths[1]
    head = batch.pixels[1, :num_frames, NUM_JOINTS].astype(np.float64)
    nose = track.present[:, JOINT_INDEX["nose"]]
    np.testing.assert_allclose(track.coords[nose, JOINT_INDEX["nose"]], head[nose])
    assert not np.allclose(head, batch.pixels[1, :num_frames, JOINT_INDEX["nose"]])


def test_motion_is_smooth_compared_with_shuffled_frames(tracks):
    rng = np.random.default_rng(0)
    smooth, shuffled = [], []
    for track in tracks:
        both = track.present[:-2] & track.present[1:-1] & track.present[2:]  # (T-2, 25)
        second = track.coords[2:] - 2 * track.coords[1:-1] + track.coords[:-2]
        smooth.append(np.linalg.norm(second, axis=-1)[both])
        order = rng.permutation(len(track.frames))
        coords, present = track.coords[order], track.present[order]
        both = present[:-2] & present[1:-1] & present[2:]
        second = coords[2:] - 2 * coords[1:-1] + coords[:-2]
        shuffled.append(np.linalg.norm(second, axis=-1)[both])
    smooth, shuffled = np.median(np.concatenate(smooth)), np.median(np.concatenate(shuffled))
    assert smooth < 0.1 * shuffled


def test_bones_are_rigid_and_projections_never_longer():
    batch = simulate_batch(SyntheticConfig(seed=2), 0)
    bones = [
        ("left_shoulder", "left_elbow"),
        ("right_elbow", "right_wrist"),
        ("left_hip", "left_knee"),
        ("right_knee", "right_ankle"),
        ("left_hip", "right_hip"),
        ("left_shoulder", "right_shoulder"),
    ]
    for i in range(8):
        num_frames = batch.lengths[i]
        for a, b in bones:
            points = batch.points3d[i, :num_frames].astype(np.float64)
            length3d = np.linalg.norm(points[:, JOINT_INDEX[a]] - points[:, JOINT_INDEX[b]], axis=-1)
            assert length3d.std() < 1e-5 * length3d.mean(), (i, a, b)
            pixels = batch.pixels[i, :num_frames].astype(np.float64)
            length2d = np.linalg.norm(pixels[:, JOINT_INDEX[a]] - pixels[:, JOINT_INDEX[b]], axis=-1)
            assert (length2d <= length3d * batch.scale[i] * (1 + 1e-4)).all(), (i, a, b)
    # body proportions differ between people
    upper_arm = batch.segments["upper_arm"]
    assert upper_arm.std() > 0.01 * upper_arm.mean()


def test_occlusions_come_in_contiguous_runs(tracks):
    runs = []
    for track in tracks:
        has = COCO_JOINTS if track.name.startswith("synth_coco_") else PENN_JOINTS
        for absent in (~track.present[:, has]).T:
            if absent.any() and not absent.all():
                edges = np.diff(np.concatenate([[0], absent.astype(np.int8), [0]]))
                runs.extend(np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1))
    runs = np.asarray(runs)
    assert len(runs) > 100  # there are occlusions
    assert np.median(runs) >= 4
    assert (runs == 1).mean() < 0.05  # an i.i.d. per-frame dropout would make most runs a single frame


def test_mean_torso_on_the_grid_matches_the_chapter(tracks):
    torso = []
    for track in tracks:
        grid, _, keep = crop_to_grid(track.coords, track.present, margin=0.1)
        torso.append(torso_diameter(grid[keep], track.present[keep]))
    torso = np.concatenate(torso)
    assert np.isfinite(torso).mean() > 0.7
    assert abs(np.nanmean(torso) - 22.3) < 1.5


def test_total_frames_and_videos_for_frames():
    config = SyntheticConfig(seed=4, min_frames=40, max_frames=60)
    expected = videos_for_frames(4000, config)
    tracks = list(generate_synthetic(total_frames=4000, config=config))
    frames = [len(t.frames) for t in tracks]
    assert len(tracks) == expected > BATCH_VIDEOS  # crosses a batch boundary
    assert sum(frames) >= 4000 > sum(frames[:-1])
    assert videos_for_frames(0, config) == 0


def test_unknown_motion_in_a_mix_is_refused():
    with pytest.raises(ValueError, match="unknown synthetic motions"):
        list(generate_synthetic(videos=1, config=SyntheticConfig(coco_mix={"moonwalk": 1.0})))
