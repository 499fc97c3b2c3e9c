"""Left/right swap repair without a model: injected swaps come back, a person turning round is left alone."""

import json
from pathlib import Path

import numpy as np
import pytest

from posedenoise.denoise import denoise_file
from posedenoise.layout import BLAZEPOSE33, COCO17
from posedenoise.swaps import repair_swaps, swap_back, swap_groups
from posedenoise.tracks import read_tracks

REPO = Path(__file__).resolve().parents[1]
# the real MediaPipe sample shipped with the examples
REAL = next(iter(sorted((REPO / "examples").rglob("sports2d_demo_raw.json"))), None)


def walking_person(t=120, seed=0):
    """(T, 17, 2) a COCO-17 person ~300 px tall walking right, limbs swinging, with 2 px jitter."""
    rng = np.random.default_rng(seed)
    time = np.arange(t) / 30.0
    # x offsets (left side of the image is the person's right: they face the camera)
    body = {
        "nose": (0, -140), "left_eye": (8, -148), "right_eye": (-8, -148), "left_ear": (16, -144),
        "right_ear": (-16, -144), "left_shoulder": (40, -100), "right_shoulder": (-40, -100),
        "left_elbow": (50, -50), "right_elbow": (-50, -50), "left_wrist": (55, 0), "right_wrist": (-55, 0),
        "left_hip": (25, 10), "right_hip": (-25, 10), "left_knee": (28, 80), "right_knee": (-28, 80),
        "left_ankle": (30, 150), "right_ankle": (-30, 150),
    }  # fmt: skip
    template = np.array([body[n] for n in COCO17], dtype=np.float64)
    swing = 15 * np.sin(2 * np.pi * 1.0 * time)  # limbs swing at 1 Hz
    xy = np.repeat(template[None], t, axis=0)
    for j, name in enumerate(COCO17):
        if any(part in name for part in ("wrist", "elbow", "knee", "ankle")):
            sign = 1 if ("left" in name) == ("knee" in name or "ankle" in name) else -1
            xy[:, j, 0] += sign * swing
    xy += np.stack([400 + 60 * time, 300 + 0 * time], axis=1)[:, None]
    return xy + rng.normal(0, 2.0, size=xy.shape)


def flip(xy, frames, names, parts=None):
    out = xy.copy()
    for g in swap_groups(names):
        if parts is not None and g.name not in parts:
            continue
        for a, b in zip(g.left, g.right, strict=True):
            out[frames, a], out[frames, b] = xy[frames, b], xy[frames, a]
    return out


def test_groups_follow_the_names():
    groups = {g.name: [COCO17[i] for i in g.left] for g in swap_groups(COCO17)}
    assert groups == {
        "head": ["left_eye", "left_ear"],
        "torso": ["left_shoulder", "left_hip"],
        "arms": ["left_elbow", "left_wrist"],
        "legs": ["left_knee", "left_ankle"],
    }
    assert sum(len(g.left) for g in swap_groups(BLAZEPOSE33)) == 16
    assert swap_groups(tuple(f"keypoint_{i}" for i in range(25))) == []  # unnamed: nothing to pair


def test_injected_swaps_are_repaired_and_nothing_else_changes():
    clean = walking_person()
    present = np.ones(clean.shape[:2], dtype=bool)
    whole = np.arange(30, 36)  # a whole-body swap, as MediaPipe makes
    legs = np.arange(70, 80)  # the legs alone, as OpenPose makes
    arms = np.arange(95, 99)  # the arms alone
    noisy = flip(flip(flip(clean, whole, COCO17), legs, COCO17, parts={"legs"}), arms, COCO17, parts={"arms"})
    repaired, swapped = repair_swaps(noisy, present, COCO17)
    # the eyes and ears (16 and 32 px apart on a 300 px body) are too close to tell a swap from jitter
    head = [COCO17.index(n) for n in ("left_eye", "right_eye", "left_ear", "right_ear")]
    body = [j for j in range(17) if j not in head]
    np.testing.assert_array_equal(repaired[:, body], clean[:, body])
    flagged = {g.name: np.flatnonzero(swapped[:, i]).tolist() for i, g in enumerate(swap_groups(COCO17))}
    assert flagged == {
        "head": [],
        "torso": whole.tolist(),
        "arms": sorted(whole.tolist() + arms.tolist()),
        "legs": sorted(whole.tolist() + legs.tolist()),
    }
    scores = np.arange(clean.shape[0] * 17, dtype=float).reshape(-1, 17)
    moved = swap_back(scores, swapped, COCO17)
    assert moved[whole[0], COCO17.index("left_wrist")] == scores[whole[0], COCO17.index("right_wrist")]
    # an unswapped track, and one with a missing joint, come back unchanged
    again, none = repair_swaps(clean, present, COCO17)
    assert not none.any() and np.array_equal(again, clean)
    present[50:60, COCO17.index("left_knee")] = False
    assert not repair_swaps(clean, present, COCO17)[1].any()


def test_a_person_turning_round_is_left_alone():
    t = 90
    angle = np.linspace(0, np.pi, t)  # faces the camera, then the side, then away: left and right cross
    clean = walking_person(t)
    centre = clean.mean(axis=1, keepdims=True)
    turned = clean.copy()
    turned[..., 0] = centre[..., 0] + (clean[..., 0] - centre[..., 0]) * np.cos(angle)[:, None]
    assert not repair_swaps(turned, np.ones((t, 17), dtype=bool), COCO17)[1].any()


@pytest.mark.skipif(REAL is None, reason="the real MediaPipe sample is not available")
def test_real_whole_body_swap_at_frames_68_to_72_is_repaired(tmp_path):
    out = tmp_path / "repaired.json"
    summary = denoise_file(REAL, out, filter="savgol", repair_swaps=True)
    before = read_tracks(REAL).tracks[0]
    after = read_tracks(out).tracks[0]
    ls, rs = BLAZEPOSE33.index("left_shoulder"), BLAZEPOSE33.index("right_shoulder")
    # as detected, the left shoulder is well right of the right one (the man faces the camera), except
    # at frame 4 and in the whole-body swap at frames 68-72; after frame 150 he turns side-on
    width = before.keypoints[:, ls, 0] - before.keypoints[:, rs, 0]
    first = before.frames < 150
    assert before.frames[first & (width < -20)].tolist() == [4, 68, 69, 70, 71, 72]
    fixed = after.keypoints[:, ls, 0] - after.keypoints[:, rs, 0]
    assert (fixed[first] > 0).all()
    swap_frames = np.isin(after.frames, [4, 68, 69, 70, 71, 72])
    assert (fixed[swap_frames] > 40).all()  # the shoulders as wide apart as around them, on the right sides
    repaired = {s["group"]: s["frames"] for s in summary.swaps}
    assert repaired["torso"] == [4, 68, 69, 70, 71, 72] and repaired["arms"] == [68, 69, 70, 71, 72]
    assert any("left/right swap of the arms repaired at frame(s) 68-72" in line for line in summary.lines())
    recorded = json.loads((tmp_path / "repaired.denoise.json").read_text())
    assert recorded["repair_swaps"] is True
