"""Penn Action, BRACE and custom-table sources on fixtures written in their official on-disk formats."""

import json

import numpy as np
import pandas as pd
import pytest
import scipy.io

from posedenoise.errors import InputError
from posedenoise.layout import COCO17, JOINT_INDEX, JOINTS, NUM_JOINTS, PENN13
from posedenoise.sources.brace import NTSC_FPS, find_brace, load_brace, parse_segment_name
from posedenoise.sources.custom import load_custom
from posedenoise.sources.penn_action import find_penn_action, load_penn_action

# ------------------------------------------------------------------------------------------------ Penn Action


def penn_fields(num_frames=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(50, 600, (num_frames, 13)).astype(np.int16)  # stored as integers in some files
    y = rng.integers(40, 460, (num_frames, 13)).astype(np.int16)
    visibility = np.ones((num_frames, 13), dtype=np.uint8)
    visibility[1, PENN13.index("left_wrist")] = 0
    visibility[3:5, PENN13.index("right_ankle")] = 0
    return {
        "x": x,
        "y": y,
        "visibility": visibility,
        "bbox": np.tile([10.0, 20.0, 300.0, 400.0], (num_frames, 1)),
        "dimensions": np.array([[480, 640, num_frames]]),
        "nframes": np.array([[num_frames]]),
        "action": "tennis_serve",
        "pose": "back",
        "train": np.array([[1]]),
    }


@pytest.fixture
def penn_root(tmp_path):
    labels = tmp_path / "Penn_Action" / "labels"
    labels.mkdir(parents=True)
    scipy.io.savemat(labels / "0002.mat", penn_fields(5, seed=2))
    scipy.io.savemat(labels / "0001.mat", penn_fields(6, seed=1))
    return tmp_path / "Penn_Action"


def test_penn_action_tracks(penn_root):
    assert [p.name for p in find_penn_action(penn_root)] == ["0001.mat", "0002.mat"]
    tracks = list(load_penn_action(penn_root))
    assert [t.name for t in tracks] == ["0001", "0002"]
    track = tracks[0]
    fields = penn_fields(6, seed=1)
    assert track.source == "penn_action" and track.fps == 30.0 and track.action == "tennis_serve"
    assert track.coords.dtype == np.float64 and track.coords.shape == (6, NUM_JOINTS, 2)
    np.testing.assert_array_equal(track.frames, np.arange(1, 7))
    # the head is the nose, the other joints keep their names
    np.testing.assert_array_equal(track.coords[:, JOINT_INDEX["nose"], 0], fields["x"][:, 0])
    for j, name in enumerate(PENN13[1:], start=1):
        vis = fields["visibility"][:, j] == 1
        np.testing.assert_array_equal(track.coords[vis, JOINT_INDEX[name], 0], fields["x"][vis, j])
        np.testing.assert_array_equal(track.coords[vis, JOINT_INDEX[name], 1], fields["y"][vis, j])
        np.testing.assert_array_equal(track.present[:, JOINT_INDEX[name]], vis)
    # invisible joints are absent; ears, hands and feet do not exist in Penn Action
    assert not track.present[1, JOINT_INDEX["left_wrist"]]
    assert not track.present[3:5, JOINT_INDEX["right_ankle"]].any()
    for name in ("left_ear", "right_ear", "left_thumb", "right_heel", "left_foot_index"):
        assert not track.present[:, JOINT_INDEX[name]].any()
    # the labels folder itself is accepted too
    assert [t.name for t in load_penn_action(penn_root / "labels")] == ["0001", "0002"]


@pytest.mark.parametrize(
    "change, problem",
    [
        (lambda f: f.pop("visibility"), "missing field"),
        (
            lambda f: f.update(x=f["x"][:, :12], y=f["y"][:, :12], visibility=f["visibility"][:, :12]),
            "12 joints",
        ),
        (lambda f: f.update(y=f["y"][:-1]), "shapes differ"),
        (lambda f: f.update(x=np.where(np.eye(6, 13, dtype=bool), np.nan, f["x"].astype(float))), "NaN"),
    ],
)
def test_penn_action_bad_files_name_the_file(tmp_path, change, problem):
    labels = tmp_path / "labels"
    labels.mkdir()
    fields = penn_fields(6)
    change(fields)
    scipy.io.savemat(labels / "0007.mat", fields)
    with pytest.raises(InputError, match=problem) as error:
        list(load_penn_action(tmp_path))
    assert "0007.mat" in str(error.value)


def test_penn_action_nan_on_invisible_joint_is_fine(tmp_path):
    labels = tmp_path / "labels"
    labels.mkdir()
    fields = penn_fields(6)
    fields["x"] = fields["x"].astype(float)
    fields["x"][1, PENN13.index("left_wrist")] = np.nan  # invisible there
    scipy.io.savemat(labels / "0001.mat", fields)
    (track,) = load_penn_action(tmp_path)
    assert not track.present[1, JOINT_INDEX["left_wrist"]]


def test_penn_action_corrupt_and_missing(tmp_path):
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "0001.mat").write_bytes(b"MATLAB 5.0 MAT-file, truncated" + bytes(20))
    with pytest.raises(InputError, match="0001.mat"):
        list(load_penn_action(tmp_path))
    with pytest.raises(InputError, match="not found"):
        list(load_penn_action(tmp_path / "nowhere"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no Penn Action label files"):
        find_penn_action(empty)


# ------------------------------------------------------------------------------------------------------ BRACE

VIDEO = "-mT5x-j_TpI"  # real BRACE ids contain '-' and '_'


def brace_keypoints(frame, seed=0):
    rng = np.random.default_rng(frame + seed)
    points = np.column_stack([rng.uniform(100, 1800, 17), rng.uniform(50, 1000, 17), np.ones(17)])
    return points


def write_segment(folder, video, start, end, movement, frames, year="2013", keypoints=brace_keypoints):
    path = folder / "dataset" / year / video / f"{video}_{start}-{end}_{movement}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    content = {
        f"{video}/img-{frame:06d}.png": {
            "box": [1.0, 2.0, 300.0, 400.0, 1.0],
            "keypoints": keypoints(frame).tolist(),
        }
        for frame in frames
    }
    path.write_text(json.dumps(content))
    return path


@pytest.fixture
def brace_root(tmp_path):
    write_segment(tmp_path, VIDEO, 575, 580, "toprock", [578, 575, 576, 577, 579, 580])  # keys out of order
    write_segment(tmp_path, VIDEO, 581, 584, "footwork", [581, 582, 583, 584])
    write_segment(tmp_path, "A_KxOaDHi6o", 831, 834, "powermove", [831, 832, 833, 834], year="2018")
    manual = tmp_path / "manual_keypoints" / "2013" / VIDEO
    manual.mkdir(parents=True)
    override = np.column_stack([np.full(17, 11.0), np.arange(17.0) + 100, np.zeros(17)])
    np.savez(manual / "img-000577.npz", coco_joints2d=override)
    np.savez(manual / "img-000999.npz", coco_joints2d=override)  # in no segment: unused
    return tmp_path


def test_segment_names_parse_from_the_right():
    assert parse_segment_name(f"{VIDEO}_575-785_toprock.json") == (VIDEO, 575, 785, "toprock")
    assert parse_segment_name("3rIk56dcBTg_1-2_a_2024-5-17_30-31_powermove.json") == (
        "3rIk56dcBTg_1-2_a_2024-5-17",
        30,
        31,
        "powermove",
    )


def test_brace_tracks_with_manual_override(brace_root):
    tracks = {t.name: t for t in load_brace(brace_root)}
    assert set(tracks) == {f"{VIDEO}_575-580", f"{VIDEO}_581-584", "A_KxOaDHi6o_831-834"}
    track = tracks[f"{VIDEO}_575-580"]
    assert track.source == "brace" and track.action == "toprock"
    np.testing.assert_array_equal(track.frames, [575, 576, 577, 578, 579, 580])
    for row, frame in enumerate(track.frames):
        expected = brace_keypoints(frame)
        if frame == 577:  # the manual annotation wins
            expected = np.column_stack([np.full(17, 11.0), np.arange(17.0) + 100])
        for k, name in enumerate(COCO17):
            if "eye" in name:
                continue
            np.testing.assert_allclose(track.coords[row, JOINT_INDEX[name]], expected[k, :2])
    # eyes dropped, and joints COCO-17 lacks are absent
    assert set(np.flatnonzero(track.present.any(axis=0))) == {
        JOINT_INDEX[n] for n in COCO17 if "eye" not in n
    }
    assert track.present[:, [JOINT_INDEX[n] for n in COCO17 if "eye" not in n]].all()
    # frame rate per video: BRACE's 2011/2013 videos are 29.97 fps, later ones 25
    assert track.fps == pytest.approx(NTSC_FPS)
    assert tracks["A_KxOaDHi6o_831-834"].fps == 25.0


def test_brace_root_may_be_the_dataset_folder_and_fps_options(brace_root):
    names = [t.name for t in load_brace(brace_root / "dataset")]
    assert len(names) == 3 and len(find_brace(brace_root)) == 3
    assert {t.fps for t in load_brace(brace_root, fps=24.0)} == {24.0}
    rates = {t.name: t.fps for t in load_brace(brace_root, fps={VIDEO: 30.0})}
    assert rates[f"{VIDEO}_575-580"] == 30.0 and rates["A_KxOaDHi6o_831-834"] == 25.0
    (brace_root / "videos_info.csv").write_text(
        "video_id,video_url,year,duration,fps,resolution\n"
        f"{VIDEO},https://example,2013,215.5,29.97002997,1920x1080\nA_KxOaDHi6o,https://example,2011,1.0,50,1920x1080\n"
    )
    rates = {t.name: t.fps for t in load_brace(brace_root)}
    assert rates["A_KxOaDHi6o_831-834"] == 50.0 and rates[f"{VIDEO}_575-580"] == pytest.approx(29.97002997)


def test_brace_placeholder_keypoints_are_absent(tmp_path):
    def keypoints(frame):
        points = brace_keypoints(frame)
        points[COCO17.index("left_knee"), :2] = 0.0  # COCO's "not labelled"
        points[COCO17.index("nose"), 0] = np.nan
        return points

    write_segment(tmp_path, VIDEO, 1, 3, "toprock", [1, 2, 3], keypoints=keypoints)
    (track,) = load_brace(tmp_path)
    assert not track.present[:, JOINT_INDEX["left_knee"]].any()
    assert not track.present[:, JOINT_INDEX["nose"]].any()
    assert track.present[:, JOINT_INDEX["right_knee"]].all()


def test_brace_bad_inputs_name_the_file(tmp_path):
    good = write_segment(tmp_path / "a", VIDEO, 1, 3, "toprock", [1, 2, 3])
    truncated = write_segment(tmp_path / "b", VIDEO, 1, 3, "toprock", [1, 2, 3])
    truncated.write_text(truncated.read_text()[:50])
    short = write_segment(
        tmp_path / "c", VIDEO, 1, 3, "toprock", [1, 2, 3], keypoints=lambda f: np.ones((16, 3))
    )
    unparsable = write_segment(tmp_path / "d", VIDEO, 1, 3, "toprock", [1, 2])
    unparsable = unparsable.rename(unparsable.with_name("toprock.json"))
    span = write_segment(tmp_path / "e", VIDEO, 1, 3, "toprock", [1, 2])
    span = span.rename(span.with_name(f"{VIDEO}_a-b_toprock.json"))
    for path, problem in [
        (truncated, "cannot read JSON"),
        (short, "keypoints have shape"),
        (unparsable, "file name"),
        (span, "start>-<end>"),
    ]:
        root = path.parents[3]
        with pytest.raises(InputError, match=problem) as error:
            list(load_brace(root))
        assert path.name in str(error.value)

    manual = tmp_path / "a" / "manual_keypoints" / "2013" / VIDEO
    manual.mkdir(parents=True)
    (manual / "img-000002.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(InputError, match="img-000002.npz"):
        list(load_brace(tmp_path / "a"))
    assert good.exists()
    with pytest.raises(InputError, match="not found"):
        list(load_brace(tmp_path / "nowhere"))
    with pytest.raises(InputError, match="no BRACE keypoint files"):
        find_brace(manual)


# ----------------------------------------------------------------------------------------------------- custom


def custom_table():
    rows = []
    rng = np.random.default_rng(0)
    for video, frames, fps in (("clip_b", [3, 4, 5, 7], 25.0), ("clip_a", [0, 1, 2], 30.0)):
        for frame in frames:
            for joint in ("nose", "left_shoulder", "right_hip", "left_heel"):
                visible = not (video == "clip_b" and frame == 4 and joint == "nose")
                x, y = rng.uniform(0, 500, 2) if visible else (np.nan, np.nan)
                rows.append(
                    dict(video=video, frame=frame, joint=joint, x=x, y=y, visible=int(visible), fps=fps)
                )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_custom_round_trip(tmp_path, suffix):
    table = custom_table()
    path = tmp_path / f"tracks{suffix}"
    table.to_csv(path, index=False) if suffix == ".csv" else table.to_parquet(path, index=False)
    tracks = list(load_custom(path))
    assert [t.name for t in tracks] == ["clip_b", "clip_a"]  # order of first appearance
    b = tracks[0]
    assert b.source == "custom" and b.fps == 25.0 and tracks[1].fps == 30.0
    np.testing.assert_array_equal(b.frames, [3, 4, 5, 7])  # the gap stays a gap
    for row in table.itertuples():
        track = tracks[0] if row.video == "clip_b" else tracks[1]
        t = list(track.frames).index(row.frame)
        j = JOINT_INDEX[row.joint]
        assert track.present[t, j] == bool(row.visible)
        if row.visible:
            np.testing.assert_allclose(track.coords[t, j], [row.x, row.y])
    assert b.present.sum() == 4 * 4 - 1
    assert not b.present[:, JOINT_INDEX["right_wrist"]].any()  # no rows: not present


def test_custom_minimal_columns_default_visible_and_fps(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("video,frame,joint,x,y\nv,1,nose,1.5,2.5\nv,2,nose,1.0,2.0\n")
    (track,) = load_custom(path)
    assert track.fps == 30.0 and track.present[:, 0].all() and track.name == "v"
    np.testing.assert_array_equal(track.coords[:, 0], [[1.5, 2.5], [1.0, 2.0]])


@pytest.mark.parametrize(
    "text, problem",
    [
        ("video,frame,joint,x\nv,1,nose,1\n", "missing column"),
        ("video,frame,joint,x,y\nv,1,nose,1,2\nv,1,head,1,2\nv,1,left_eye,1,2\n", "'head', 'left_eye'"),
        ("video,frame,joint,x,y\nv,1,nose,abc,2\n", "non-numeric"),
        ("video,frame,joint,x,y,visible\nv,1,nose,,2,1\n", "visible row"),
        ("video,frame,joint,x,y\nv,1,nose,1,2\nv,1,nose,3,4\n", "duplicated"),
        ("video,frame,joint,x,y\nv,1.5,nose,1,2\n", "whole numbers"),
        ("video,frame,joint,x,y,fps\nv,1,nose,1,2,30\nv,2,nose,1,2,25\n", "fps"),
        ("video,frame,joint,x,y,visible\nv,1,nose,1,2,maybe\n", "visible"),
    ],
)
def test_custom_bad_tables_name_the_file(tmp_path, text, problem):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=problem) as error:
        list(load_custom(path))
    assert "bad.csv" in str(error.value)


def test_custom_unreadable_files(tmp_path):
    parquet = tmp_path / "broken.parquet"
    parquet.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(InputError, match="broken.parquet"):
        list(load_custom(parquet))
    with pytest.raises(InputError, match="not found"):
        list(load_custom(tmp_path / "missing.csv"))


def test_custom_joint_names_are_the_layout(tmp_path):
    path = tmp_path / "all.csv"
    path.write_text(
        "video,frame,joint,x,y\n" + "".join(f"v,0,{name},{i},{i}\n" for i, name in enumerate(JOINTS))
    )
    (track,) = load_custom(path)
    np.testing.assert_array_equal(track.coords[0, :, 0], np.arange(NUM_JOINTS))
    assert track.present.all()


# ------------------------------------------------------------------------ custom: pose files (tracks formats)


def walking_person(t, seed=0):
    """(T, 17, 2) a COCO-17 body of ~200 px moving smoothly."""
    rng = np.random.default_rng(seed)
    return rng.uniform(100, 300, (17, 2))[None] + np.linspace(0, 20, t)[:, None, None]


def posetrack_file(path, frames=12, unlabelled=(8,)):
    """One PoseTrack-style video: two people with track ids, one unlabelled image, a box-only person."""
    people = [walking_person(frames, seed) for seed in (0, 1)]
    images = [{"id": 500 + t, "vid_id": "007", "is_labeled": t not in unlabelled} for t in range(frames)]
    annotations = []
    for t in range(frames):
        if t in unlabelled:
            continue
        for p, kp in enumerate(people):
            v = np.ones(17)
            v[[1, 2]] = 0  # head_bottom / head_top unlabelled
            triplets = np.concatenate([kp[t], v[:, None]], axis=1).ravel().tolist()
            annotations.append({"image_id": 500 + t, "track_id": p, "keypoints": triplets})
        annotations.append({"image_id": 500 + t, "track_id": 9, "bbox_head": [0, 0, 5, 5]})
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": []}))
    return people


def test_custom_pose_files_and_folders(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    people = posetrack_file(folder / "007_mpii.json")
    one = walking_person(9, seed=2)
    np.savez(folder / "solo.npz", keypoints=one, frames=np.arange(10, 19))
    pose_csv = pd.DataFrame(
        [
            dict(frame=f, joint=name, x=one[f, j, 0], y=one[f, j, 1])
            for f in range(6)
            for j, name in enumerate(COCO17)
        ]
    )
    pose_csv.to_csv(folder / "detector.csv", index=False)  # no `video` column: a pose file
    custom_table().to_csv(folder / "table.csv", index=False)  # a `video` column: the table
    (folder / "notes.txt").write_text("not a pose file")

    tracks = list(load_custom(folder))
    names = [t.name for t in tracks]
    assert names == ["007_mpii.json/0", "007_mpii.json/1", "detector.csv", "solo.npz", "clip_b", "clip_a"]
    assert all(t.source == "custom" and t.fps == 30.0 for t in tracks[:4])
    first = tracks[0]
    # frames are the images' positions; the unlabelled image 8 is a gap that breaks windows
    np.testing.assert_array_equal(first.frames, [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11])
    coco_in_25 = [JOINT_INDEX[n] for n in COCO17 if n in JOINT_INDEX]
    assert first.present[:, coco_in_25].all() and first.present.sum(axis=1).tolist() == [15] * 11
    np.testing.assert_allclose(first.coords[:, JOINT_INDEX["left_wrist"]], people[0][first.frames, 9])
    np.testing.assert_array_equal(tracks[3].frames, np.arange(10, 19))
    np.testing.assert_allclose(tracks[3].coords[:, JOINT_INDEX["nose"]], one[:, 0])
    # files and folders can be mixed; the same tracks whichever way they are named
    again = list(load_custom([folder / "solo.npz", folder / "007_mpii.json"]))
    assert [t.name for t in again] == ["solo.npz", "007_mpii.json/0", "007_mpii.json/1"]


def test_custom_pose_file_problems_name_the_file(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="empty.*no .csv"):
        list(load_custom(empty))
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((5, 12, 2)))
    with pytest.raises(InputError, match="gone.json.*not found"):
        list(load_custom([wrong, tmp_path / "gone.json"]))  # every file is checked before any is read
    with pytest.raises(InputError, match="wrong.npy.*12 keypoints"):
        list(load_custom(wrong))
