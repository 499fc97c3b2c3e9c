"""Reading and writing the user's pose tracks, following several people, and splitting at track breaks."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posedenoise.breaks import segments, track_breaks
from posedenoise.errors import InputError
from posedenoise.layout import COCO17, JOINT_INDEX
from posedenoise.tracks import layout25, read_tracks, write_tracks

REAL = Path(__file__).resolve().parents[1] / "examples" / "data"


def person(t, k=17, x0=200.0, y0=100.0, seed=0):
    """(T, K, 2) a body of ~150 px walking smoothly to the right."""
    rng = np.random.default_rng(seed)
    template = rng.uniform(0, 150, size=(k, 2))
    walk = np.stack([np.linspace(0, 3 * t, t), 5 * np.sin(np.arange(t) / 3)], axis=1)  # (T, 2)
    return template[None] + walk[:, None] + np.array([x0, y0])


def coco_results(people, scores=None, track_ids=False, first_image=1):
    """COCO keypoint results for people: list of (T, K, 2), each detected in every frame."""
    out = []
    for t in range(len(people[0])):
        for p, kp in enumerate(people):
            s = np.ones(kp.shape[1]) if scores is None else scores[p][t]
            triplets = np.concatenate([kp[t], s[:, None]], axis=1).ravel().tolist()
            lo, hi = kp[t].min(axis=0), kp[t].max(axis=0)
            rec = {
                "image_id": first_image + t,
                "category_id": 1,
                "keypoints": triplets,
                "score": 0.9 - 0.1 * p,
                "bbox": [*lo.tolist(), *(hi - lo).tolist()],
                "extra": f"kept-{p}-{t}",
            }
            if track_ids:
                rec["track_id"] = 10 + p
            out.append(rec)
    return out


def test_coco_two_people_by_box_overlap_and_exact_round_trip(tmp_path):
    a, b = person(8, x0=100), person(8, x0=600, seed=1)
    records = coco_results([a, b])
    # the detector lists people in a different order in every other frame
    for t in range(1, 8, 2):
        records[2 * t], records[2 * t + 1] = records[2 * t + 1], records[2 * t]
    src = tmp_path / "res.json"
    src.write_text(json.dumps(records))
    tf = read_tracks(src)
    assert (tf.format, tf.layout, len(tf.tracks)) == ("coco", "coco17", 2)
    assert any("box overlap" in n for n in tf.notes)
    by_x = sorted(tf.tracks, key=lambda tr: tr.keypoints[0, 0, 0])
    np.testing.assert_array_equal(by_x[0].keypoints, a)
    np.testing.assert_array_equal(by_x[1].keypoints, b)
    np.testing.assert_array_equal(by_x[0].frames, np.arange(1, 9))

    out = tmp_path / "same.json"
    write_tracks(tf, out)
    assert json.loads(out.read_text()) == records  # nothing changed: identical, extra fields included

    moved = [tr.keypoints + 5.0 for tr in tf.tracks]
    moved[0][3, 2] = np.nan  # NaN never overwrites a coordinate
    write_tracks(tf.with_keypoints(moved), out)
    again = read_tracks(out)
    for before, after in zip(tf.tracks, again.tracks, strict=True):
        expected = before.keypoints + 5.0
        if before.track_id == tf.tracks[0].track_id:
            expected[3, 2] = before.keypoints[3, 2]
        np.testing.assert_allclose(after.keypoints, expected)
        np.testing.assert_array_equal(after.scores, before.scores)
    written = json.loads(out.read_text())
    assert [r["extra"] for r in written] == [r["extra"] for r in records]
    assert [r["score"] for r in written] == [r["score"] for r in records]


def test_coco_track_ids_are_used_and_missing_frames_are_gaps(tmp_path):
    a, b = person(6), person(6, seed=1)  # overlapping boxes: only the ids can tell them apart
    records = coco_results([a, b], track_ids=True)
    records = [r for r in records if not (r["track_id"] == 11 and r["image_id"] in (3, 4))]
    src = tmp_path / "ids.json"
    src.write_text(json.dumps(records))
    tf = read_tracks(src)
    ids = {tr.track_id: tr for tr in tf.tracks}
    assert set(ids) == {10, 11}
    np.testing.assert_array_equal(ids[11].frames, [1, 2, 5, 6])
    np.testing.assert_array_equal(ids[11].keypoints, b[[0, 1, 4, 5]])


def test_string_image_ids_follow_file_order(tmp_path):
    records = coco_results([person(4)])
    for r, name in zip(records, ["f_b.jpg", "f_a.jpg", "f_d.jpg", "f_c.jpg"], strict=True):
        r["image_id"] = name
    src = tmp_path / "names.json"
    src.write_text(json.dumps(records))
    tf = read_tracks(src)
    np.testing.assert_array_equal(tf.tracks[0].frames, [0, 1, 2, 3])
    np.testing.assert_array_equal(tf.tracks[0].keypoints, person(4))


def test_blazepose_wrapper_and_layout_mapping(tmp_path):
    kp = person(5, k=33)
    doc = {"fps": 25.0, "width": 640, "height": 480, "layout": "blazepose33", "results": coco_results([kp])}
    src = tmp_path / "bp.json"
    src.write_text(json.dumps(doc))
    tf = read_tracks(src)
    assert (tf.layout, tf.fps) == ("blazepose33", 25.0)
    coords, present = layout25(tf.tracks[0], tf.layout)
    assert present.all()  # BlazePose has every joint of the 25-joint layout
    np.testing.assert_array_equal(coords[:, JOINT_INDEX["left_wrist"]], kp[:, 15])
    np.testing.assert_array_equal(coords[:, JOINT_INDEX["right_foot_index"]], kp[:, 32])
    out = tmp_path / "bp_out.json"
    write_tracks(tf, out)
    assert json.loads(out.read_text()) == doc


def test_coco17_to_layout25_and_low_scores():
    from posedenoise.tracks import PersonTrack

    kp = person(3)
    scores = np.ones((3, 17))
    scores[1, COCO17.index("left_wrist")] = 0.1
    tr = PersonTrack(0, np.arange(3), kp, scores, np.arange(3))
    coords, present = layout25(tr, "coco17", min_score=0.3)
    assert not present[:, JOINT_INDEX["left_pinky"]].any()  # COCO has no hands
    assert present[:, JOINT_INDEX["left_ear"]].all()
    np.testing.assert_array_equal(coords[:, JOINT_INDEX["left_ear"]], kp[:, COCO17.index("left_ear")])
    assert not present[1, JOINT_INDEX["left_wrist"]] and present[0, JOINT_INDEX["left_wrist"]]


def test_mmpose_round_trip(tmp_path):
    a, b = person(5, x0=50), person(5, x0=700, seed=2)
    info = []
    for t in range(5):
        instances = []
        for kp in (b, a) if t % 2 else (a, b):
            lo, hi = kp[t].min(axis=0), kp[t].max(axis=0)
            instances.append(
                {
                    "keypoints": kp[t].tolist(),
                    "keypoint_scores": [0.8] * 17,
                    "bbox": [[*lo.tolist(), *hi.tolist()]],  # mmpose nests it
                    "bbox_score": 0.95,
                }
            )
        info.append({"frame_id": t + 1, "instances": instances})
    doc = {"meta_info": {"dataset_name": "coco"}, "instance_info": info}
    src = tmp_path / "pred.json"
    src.write_text(json.dumps(doc, indent="\t"))
    tf = read_tracks(src)
    assert (tf.format, len(tf.tracks)) == ("mmpose", 2)
    left = min(tf.tracks, key=lambda tr: tr.keypoints[0, 0, 0])
    np.testing.assert_array_equal(left.keypoints, a)
    np.testing.assert_array_equal(left.scores, 0.8)
    out = tmp_path / "out.json"
    write_tracks(tf, out)
    assert json.loads(out.read_text()) == doc
    write_tracks(tf.with_keypoints([tr.keypoints * 2 for tr in tf.tracks]), out)
    doubled = read_tracks(out)
    for before, after in zip(tf.tracks, doubled.tracks, strict=True):
        np.testing.assert_allclose(after.keypoints, before.keypoints * 2)
    assert json.loads(out.read_text())["meta_info"] == doc["meta_info"]


def long_csv(people, joint_names=True, drop=()):
    rows = []
    for p, kp in enumerate(people):
        for t in range(len(kp)):
            for j in range(kp.shape[1]):
                if (p, t, j) in drop:
                    continue
                joint = COCO17[j] if joint_names else j
                rows.append(
                    {
                        "frame": t,
                        "track_id": f"p{p}",
                        "joint": joint,
                        "x": kp[t, j, 0],
                        "y": kp[t, j, 1],
                        "score": 0.9,
                        "note": "keep",
                    }
                )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("joint_names", [True, False])
def test_csv_round_trip_with_missing_rows(tmp_path, joint_names):
    a, b = person(4) + 0.123456789, person(4, seed=3)
    df = long_csv([a, b], joint_names, drop={(1, 2, 5)})
    src = tmp_path / "long.csv"
    df.to_csv(src, index=False)
    tf = read_tracks(src)
    assert (tf.format, tf.layout, len(tf.tracks)) == ("csv", "coco17", 2)
    tb = next(tr for tr in tf.tracks if tr.track_id == "p1")
    assert np.isnan(tb.keypoints[2, 5]).all() and tb.scores[2, 5] == 0
    assert not tb.present()[2, 5] and tb.present()[2, 4]
    out = tmp_path / "out.csv"
    write_tracks(tf, out)
    pd.testing.assert_frame_equal(pd.read_csv(out), pd.read_csv(src))  # exact floats, extra column kept
    write_tracks(tf.with_keypoints([tr.keypoints - 1 for tr in tf.tracks]), out)
    back = pd.read_csv(out)
    np.testing.assert_allclose(back["x"], df["x"] - 1)
    np.testing.assert_allclose(back["y"], df["y"] - 1)
    assert (back["note"] == "keep").all()


def test_npy_with_nan_missing_joints(tmp_path):
    kp = person(6, k=25)
    kp[2, 7] = np.nan
    src = tmp_path / "t.npy"
    np.save(src, kp.astype(np.float32))
    assert read_tracks(src).layout == "unnamed25"  # BODY_25 or the 25-joint layout: not guessed
    tf = read_tracks(src, layout="layout25")
    assert (tf.format, tf.layout) == ("npy", "layout25")
    tr = tf.tracks[0]
    assert not tr.present()[2, 7] and tr.present().sum() == 6 * 25 - 1
    out = tmp_path / "o.npy"
    write_tracks(tf.with_keypoints([tr.keypoints + 1]), out)
    back = np.load(out)
    assert back.dtype == np.float32 and back.shape == kp.shape
    assert np.isnan(back[2, 7]).all()
    np.testing.assert_allclose(back[0], kp[0] + 1, rtol=1e-6)


def test_npz_with_scores_frames_and_other_arrays(tmp_path):
    kp = person(5, k=33)
    arr = np.concatenate([kp, np.full((5, 33, 1), 0.7)], axis=2)
    src = tmp_path / "t.npz"
    np.savez(src, keypoints=arr, frames=np.array([3, 4, 6, 7, 8]), fps=np.array(50.0))
    tf = read_tracks(src)
    assert tf.layout == "blazepose33"
    np.testing.assert_array_equal(tf.tracks[0].frames, [3, 4, 6, 7, 8])
    np.testing.assert_array_equal(tf.tracks[0].scores, 0.7)
    out = tmp_path / "o.npz"
    write_tracks(tf.with_keypoints([kp * 0.5]), out)
    with np.load(out) as z:
        assert set(z.files) == {"keypoints", "frames", "fps"}
        np.testing.assert_allclose(z["keypoints"][..., :2], kp * 0.5)
        np.testing.assert_array_equal(z["keypoints"][..., 2], 0.7)
        assert float(z["fps"]) == 50.0


def write(tmp_path, name, content):
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content)
    else:
        path.write_text(json.dumps(content))
    return path


@pytest.mark.parametrize(
    "name, content, problem",
    [
        ("bad.json", "[{", "malformed JSON"),
        ("k.json", [{"image_id": 1, "keypoints": []}], "triplets"),
        ("mix.json", coco_results([person(1)]) + coco_results([person(1, k=25)]), "earlier results have 17"),
        ("nan.json", '[{"image_id": 1, "keypoints": [NaN, 1, 0.9' + ", 1, 1, 1" * 16 + "]}]", "NaN"),
        ("str.json", [{"image_id": 1, "keypoints": ["a", 1, 1] * 17}], "non-numeric"),
        ("dict.json", {"foo": 1}, "not a COCO"),
        ("empty.json", [], "no detections"),
        ("cols.csv", "frame,x,y\n0,1,2\n", "missing column(s) joint"),
        ("idx.csv", "frame,joint,x,y\n0,-1,1,2\n0,11,1,2\n", "joint index out of range"),
        ("names.csv", "frame,joint,x,y\n0,nose,1,2\n0,tail,1,2\n", "unknown joint name"),
        ("file.txt", "hello", "unsupported file type"),
    ],
)
def test_bad_input_names_file_and_problem(tmp_path, name, content, problem):
    path = write(tmp_path, name, content)
    with pytest.raises(InputError) as info:
        read_tracks(path)
    assert problem in str(info.value) and str(path) in str(info.value)


def test_bad_arrays_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_tracks(tmp_path / "nope.json")
    np.save(tmp_path / "flat.npy", np.zeros((5, 34)))
    with pytest.raises(InputError, match=r"expected \(T, K, 2\)"):
        read_tracks(tmp_path / "flat.npy")
    np.save(tmp_path / "k.npy", np.zeros((5, 12, 2)))
    assert read_tracks(tmp_path / "k.npy").layout == "unnamed12"  # any count, for the filters
    with pytest.raises(InputError, match="12 keypoints per person, but layout 'coco17' has 17"):
        read_tracks(tmp_path / "k.npy", layout="coco17")
    bad = np.ones((3, 17, 3))
    bad[1, 2, 0] = np.nan  # NaN coordinate with a positive score
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(InputError, match="NaN coordinates"):
        read_tracks(tmp_path / "nan.npy")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a readable NumPy file"):
        read_tracks(tmp_path / "junk.npz")


def test_writing_another_suffix_converts(tmp_path):
    src = write(tmp_path, "r.json", coco_results([person(2)]))
    write_tracks(read_tracks(src), tmp_path / "r.csv")
    table = read_tracks(tmp_path / "r.csv")
    assert (table.format, table.layout) == ("csv", "coco17")
    np.testing.assert_allclose(table.tracks[0].keypoints, read_tracks(src).tracks[0].keypoints)
    with pytest.raises(InputError, match="convert to .csv or .json"):
        write_tracks(read_tracks(src), tmp_path / "r.npy")


def test_breaks_at_body_jumps_and_long_gaps():
    t = 30
    kp = person(t)
    kp[12:] += np.array([900.0, 300.0])  # the tracker switches to someone far away at index 12
    frames = np.arange(t)
    frames[20:] += 15  # then nobody is detected for 15 frames
    present = np.ones((t, 17), dtype=bool)
    present[5, :15] = False  # a frame with only 2 joints still counts as detected
    breaks = track_breaks(frames, kp, present, jump=0.5, max_gap=10)
    assert [(b.index, b.reason) for b in breaks] == [(12, "jump"), (20, "gap")]
    assert breaks[1].frame == 35 and breaks[1].amount == 15
    assert segments(t, breaks) == [(0, 12), (12, 20), (20, 30)]
    # ordinary motion (3 px per frame for a 150 px body) never splits
    assert track_breaks(np.arange(t), person(t), np.ones((t, 17), bool)) == []


def test_real_blazepose_file_splits_where_the_tracker_jumps_between_people():
    tf = read_tracks(REAL / "sports2d_demo_raw.json")
    assert (tf.layout, tf.fps, len(tf.tracks), tf.num_records) == ("blazepose33", 30.0, 1, 221)
    tr = tf.tracks[0]
    breaks = track_breaks(tr.frames, tr.keypoints, tr.present(0.5))
    # The whole body moves ~1.8 and ~4.4 body sizes at images 172 and 203 (right after one-frame gaps);
    # nowhere else does it move more than a quarter of one.
    assert [(b.frame, b.reason) for b in breaks] == [(172, "jump"), (203, "jump")]
    assert all(b.amount > 1.5 for b in breaks)


# ----------------------------------------------------------------------------- COCO / PoseTrack annotations

POSETRACK17 = ("nose", "head_bottom", "head_top", *COCO17[3:])


def posetrack_video(tmp_path, frames=8, unlabelled=(6,), vid_id="000001"):
    """A PoseTrack-2018-style annotation file: one video, two people with track ids, v flags in {0, 1},
    one image left unlabelled and one box-only annotation per frame."""
    people = [person(frames, x0=100), person(frames, x0=600, seed=1)]
    images, annotations = [], []
    for t in range(frames):
        image_id = 10000010000 + t
        name = f"images/val/{vid_id}_mpii_test/{t:06d}.jpg"
        images.append(
            dict(
                id=image_id, frame_id=image_id, vid_id=vid_id, is_labeled=t not in unlabelled, file_name=name
            )
        )
        if t in unlabelled:
            continue
        for p, kp in enumerate(people):
            v = np.ones(17)
            v[[1, 2]] = 0 if p else 1  # PoseTrack often leaves the head points unlabelled
            if p == 1 and t == 2:
                v[9] = 0  # a wrist not labelled in one frame
            triplets = np.concatenate([kp[t], v[:, None]], axis=1)
            triplets[v == 0, :2] = 0.0  # unlabelled joints are written as 0, 0, 0
            keypoints = triplets.ravel().tolist()
            annotations.append(
                dict(
                    id=len(annotations),
                    image_id=image_id,
                    track_id=p,
                    keypoints=keypoints,
                    bbox_head=[0, 0, 9, 9],
                )
            )
        annotations.append(
            {
                "id": len(annotations),
                "image_id": image_id,
                "track_id": 5,
                "category_id": 1,
                "bbox_head": [1, 1, 5, 5],
            }
        )  # fmt: skip  (a person annotated with a box only)
    doc = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 1, "name": "person", "keypoints": list(POSETRACK17)}],
    }
    path = tmp_path / f"{vid_id}_mpii_test.json"
    path.write_text(json.dumps(doc))
    return path, people


def test_posetrack_annotations_read_as_tracks_and_write_back(tmp_path):
    path, (a, b) = posetrack_video(tmp_path)
    tf = read_tracks(path)
    assert (tf.format, tf.layout, len(tf.tracks)) == ("coco", "coco17", 2)
    assert any("7 annotations without keypoints skipped" in n for n in tf.notes)
    first, second = tf.tracks
    assert (first.track_id, second.track_id) == (0, 1)
    # frames are positions in the video's image list: the unlabelled image 6 is a gap
    np.testing.assert_array_equal(first.frames, [0, 1, 2, 3, 4, 5, 7])
    np.testing.assert_array_equal(first.keypoints, a[first.frames])
    present = second.present()
    assert not present[:, [1, 2]].any() and not present[2, 9] and present[3, 9]
    coords, present25 = layout25(second, tf.layout)
    assert present25[2].sum() == 14 and present25[3].sum() == 15  # eyes (head points) are not in the layout

    moved = tf.with_keypoints([t.keypoints + 1.5 for t in tf.tracks])
    out = tmp_path / "out.json"
    write_tracks(moved, out)
    doc, written = json.loads(path.read_text()), json.loads(out.read_text())
    assert written["images"] == doc["images"] and written["categories"] == doc["categories"]
    for before, after in zip(doc["annotations"], written["annotations"], strict=True):
        if "keypoints" not in before:
            assert after == before  # box-only annotations untouched
            continue
        kb, ka = np.reshape(before["keypoints"], (17, 3)), np.reshape(after["keypoints"], (17, 3))
        np.testing.assert_array_equal(ka[:, 2], kb[:, 2])  # visibility flags kept
        np.testing.assert_allclose(ka[:, :2], kb[:, :2] + 1.5)
        assert {k: v for k, v in after.items() if k != "keypoints"} == {
            k: v for k, v in before.items() if k != "keypoints"
        }


def test_bad_posetrack_files_name_the_problem(tmp_path):
    path, _ = posetrack_video(tmp_path)
    doc = json.loads(path.read_text())
    doc["images"][3]["vid_id"] = "000002"
    two = write(tmp_path, "two.json", json.dumps(doc))
    with pytest.raises(InputError, match=r"two\.json.*2 videos"):
        read_tracks(two)
    doc = json.loads(path.read_text())
    doc["annotations"][0]["image_id"] = 42
    unknown = write(tmp_path, "unknown.json", json.dumps(doc))
    with pytest.raises(InputError, match="image_id 42 is not among the file's images"):
        read_tracks(unknown)
    doc = json.loads(path.read_text())
    doc["annotations"] = [a for a in doc["annotations"] if "keypoints" not in a]
    empty = write(tmp_path, "boxes.json", json.dumps(doc))
    with pytest.raises(InputError, match="no annotation has keypoints"):
        read_tracks(empty)


# ----------------------------------------------------------------------------- crowds


def boxed_person(box, who, frame, k=17):
    """A COCO result whose keypoints fill `box` (x1, y1, x2, y2); `who` is kept in an extra field."""
    x1, y1, x2, y2 = box
    grid = np.linspace(0, 1, k)
    kps = np.stack([x1 + (x2 - x1) * grid, y1 + (y2 - y1) * grid[::-1], np.full(k, 0.9)], axis=1)
    return {
        "image_id": frame,
        "category_id": 1,
        "keypoints": kps.ravel().tolist(),
        "score": 0.9,
        "bbox": [x1, y1, x2 - x1, y2 - y1],
        "who": who,
    }


def greedy_pairs(iou, min_iou):
    """Best-overlapping pair first: the matching `read_tracks` used to do."""
    pairs, used_rows, used_cols = {}, set(), set()
    for flat in np.argsort(-iou, axis=None, kind="stable"):
        r, c = np.unravel_index(flat, iou.shape)
        if iou[r, c] < min_iou:
            break
        if r not in used_rows and c not in used_cols:
            pairs[int(r)] = int(c)
            used_rows.add(r)
            used_cols.add(c)
    return pairs


def test_crossing_people_keep_their_tracks_where_greedy_matching_swaps_them(tmp_path):
    from posedenoise.tracks import box_overlaps

    # A (near the camera, wide) walks right fast past B (farther, narrow) walking right slowly
    a = [(0, 100, 200, 300), (100, 100, 300, 300), (200, 100, 400, 300)]
    b = [(0, 100, 80, 300), (40, 100, 120, 300), (80, 100, 160, 300)]
    records = [boxed_person(box, who, t) for t in range(3) for who, box in (("a", a[t]), ("b", b[t]))]
    src = tmp_path / "cross.json"
    src.write_text(json.dumps(records))

    # frame 0 -> 1: A's box overlaps B's new box (0.4) more than its own (0.33), and B's old box does
    # not reach A's new one: greedy gives A's track to B and starts a new track for A
    iou = box_overlaps(np.array([a[0], b[0]], float), np.array([a[1], b[1]], float))
    assert greedy_pairs(iou, 0.3) == {0: 1}

    tf = read_tracks(src)
    owners = [{records[r]["who"] for r in tr.records} for tr in tf.tracks]
    assert owners == [{"a"}, {"b"}]  # the assignment of largest total overlap (0.33 + 0.33)
    assert [len(tr) for tr in tf.tracks] == [3, 3]


def test_written_document_is_the_source_with_only_xy_replaced(tmp_path):
    import copy
    import math

    a, b = person(6, x0=100), person(6, x0=600, seed=1)
    results = coco_results([a, b])
    results[3]["keypoints"][0] = float("nan")  # a joint without coordinates stays as it was
    results[3]["keypoints"][2] = 0
    results[5]["keypoints"][2] = 1  # an integer score is written back as an integer
    doc = {"fps": 25, "layout": "coco17", "results": results, "camera": {"id": 3, "tags": ["a", "b"]}}
    src = tmp_path / "crowd.json"
    src.write_text(json.dumps(doc, indent=2))
    tf = read_tracks(src)
    before = copy.deepcopy(tf.source)
    shifted = tf.with_keypoints([tr.keypoints + 0.5 for tr in tf.tracks])
    out = tmp_path / "out.json"
    write_tracks(shifted, out)

    # the reference: a deep copy of the whole document with each record's x, y set
    expected = copy.deepcopy(doc)
    for tr in shifted.tracks:
        for t, r in enumerate(tr.records):
            kps = expected["results"][r]["keypoints"]
            for j, (x, y) in enumerate(tr.keypoints[t]):
                if math.isfinite(x) and math.isfinite(y):
                    kps[3 * j], kps[3 * j + 1] = float(x), float(y)
    assert out.read_text() == json.dumps(expected, indent=2) + "\n"
    assert json.dumps(tf.source) == json.dumps(before)  # the document read was not changed
    assert '"camera": {\n    "id": 3' in out.read_text()
