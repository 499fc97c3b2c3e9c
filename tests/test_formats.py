"""Detector outputs of the field, each read, denoised and written back with every other field kept."""

import json

import numpy as np
import pytest

from posedenoise.denoise import denoise_file
from posedenoise.errors import InputError
from posedenoise.layout import BODY25, COCO18, HAND21, SOURCE_LAYOUTS, WHOLEBODY133
from posedenoise.models import create_model
from posedenoise.tracks import read_tracks, write_tracks


def people(t, k, n=2, seed=0):
    """(n, T, K, 2) people ~200 px tall walking apart, with 4 px jitter, and (n, T, K) scores."""
    rng = np.random.default_rng(seed)
    time = np.arange(t)
    out = []
    for p in range(n):
        template = rng.uniform(0, 200, size=(k, 2))
        motion = np.stack([300.0 + 500 * p + 2 * time, 100 + 10 * np.sin(time / 5)], axis=1)
        out.append(template[None] + motion[:, None])
    clean = np.stack(out)
    scores = rng.uniform(0.5, 1.0, size=clean.shape[:-1])
    return clean, clean + rng.normal(0, 4.0, size=clean.shape), scores


def mean_error(a, b):
    return float(np.mean(np.linalg.norm(a - b, axis=-1)))


def by_start(track_file):
    """Tracks ordered by where they start (left to right)."""
    return sorted(track_file.tracks, key=lambda tr: np.nanmean(tr.keypoints[0, :, 0]))


def test_mmpose_inferencer_output(tmp_path):
    clean, noisy, scores = people(40, 17)
    frames = []
    for i in range(40):
        instances = [
            {
                "keypoints": noisy[p, i].tolist(),
                "keypoint_scores": scores[p, i].tolist(),
                "bbox": [[*noisy[p, i].min(0).tolist(), *noisy[p, i].max(0).tolist()]],
                "bbox_score": 0.9,
            }
            for p in range(2)
        ]
        frames.append({"frame_id": i, "instances": instances})
    src, out = tmp_path / "results_video.json", tmp_path / "out.json"
    src.write_text(json.dumps(frames))
    track_file = read_tracks(src)
    assert (track_file.format, track_file.layout, len(track_file.tracks)) == (
        "mmpose-inferencer",
        "coco17",
        2,
    )
    summary = denoise_file(src, out, filter="butterworth")
    doc = json.loads(out.read_text())
    assert [f["frame_id"] for f in doc] == list(range(40))
    for f, frame in enumerate(doc):  # every other field as read
        for p, inst in enumerate(frame["instances"]):
            assert inst["keypoint_scores"] == frames[f]["instances"][p]["keypoint_scores"]
            assert inst["bbox"] == frames[f]["instances"][p]["bbox"] and inst["bbox_score"] == 0.9
    result = by_start(read_tracks(out))
    for p in range(2):
        assert mean_error(result[p].keypoints, clean[p]) < 0.7 * mean_error(noisy[p], clean[p])
    assert summary.tracks == 2


def openpose_folder(folder, noisy, scores, k_names, missing=()):
    folder.mkdir()
    t = noisy.shape[1]
    for i in range(t):
        people_doc = []
        for p in range(noisy.shape[0]):
            kps = np.concatenate([noisy[p, i], scores[p, i][:, None]], axis=1)
            for frame, joint in missing:
                if frame == i:
                    kps[joint] = 0.0  # what OpenPose writes for a joint it did not find
            people_doc.append(
                {
                    "person_id": [-1],
                    "pose_keypoints_2d": kps.ravel().tolist(),
                    "face_keypoints_2d": [1.0, 2.0, 0.5],
                    "hand_left_keypoints_2d": [],
                }
            )
        doc = {"version": 1.3, "people": people_doc}
        (folder / f"clip_{i:012d}_keypoints.json").write_text(json.dumps(doc))
    assert len(k_names) == noisy.shape[2]


@pytest.mark.parametrize("layout, names", [("body25", BODY25), ("coco18", COCO18)])
def test_openpose_folders_several_people(tmp_path, layout, names):
    clean, noisy, scores = people(30, len(names))
    src, out = tmp_path / "openpose", tmp_path / "smoothed"
    openpose_folder(src, noisy, scores, names, missing=[(10, 4)])
    track_file = read_tracks(src)
    assert (track_file.format, track_file.layout, len(track_file.tracks)) == ("openpose", layout, 2)
    assert track_file.tracks[0].frames.tolist() == list(range(30))
    denoise_file(src, out, filter="savgol")
    files = sorted(p.name for p in out.iterdir() if p.suffix == ".json" and "denoise" not in p.name)
    assert files == sorted(p.name for p in src.iterdir())
    first = json.loads((out / "clip_000000000010_keypoints.json").read_text())
    assert first["version"] == 1.3 and first["people"][0]["face_keypoints_2d"] == [1.0, 2.0, 0.5]
    read_back = by_start(read_tracks(out))
    for p in range(2):
        assert mean_error(read_back[p].keypoints, clean[p]) < 0.8 * mean_error(noisy[p], clean[p])
    assert (tmp_path / "smoothed.denoise.json").exists()
    write_tracks(read_tracks(src), tmp_path / "all.csv")  # a folder in, one table out
    table = read_tracks(tmp_path / "all.csv")
    assert (table.format, table.layout, len(table.tracks)) == ("csv", layout, 2)
    write_tracks(read_tracks(out), tmp_path / "all.json")  # a folder in, one COCO results document out
    coco = by_start(read_tracks(tmp_path / "all.json"))
    assert read_tracks(tmp_path / "all.json").format == "coco" and len(coco) == 2
    np.testing.assert_allclose(coco[0].keypoints, read_back[0].keypoints)
    with pytest.raises(InputError, match="convert to .csv or .json"):
        write_tracks(read_tracks(src), tmp_path / "one.json.bak")


def test_ultralytics_results_with_track_ids(tmp_path):
    clean, noisy, scores = people(30, 17)
    frames = []
    for i in range(30):
        dets = []
        for p in (1, 0):  # detections come in any order; the tracker's ids keep the people apart
            lo, hi = noisy[p, i].min(0), noisy[p, i].max(0)
            dets.append(
                {
                    "name": "person",
                    "class": 0,
                    "confidence": 0.88,
                    "box": {"x1": lo[0], "y1": lo[1], "x2": hi[0], "y2": hi[1]},
                    "track_id": p + 1,
                    "keypoints": {
                        "x": noisy[p, i, :, 0].tolist(),
                        "y": noisy[p, i, :, 1].tolist(),
                        "visible": scores[p, i].tolist(),
                    },
                }
            )
        frames.append(dets if i != 12 else [])  # nobody detected in frame 12
    src, out = tmp_path / "yolo.json", tmp_path / "out.json"
    src.write_text(json.dumps(frames))
    track_file = read_tracks(src)
    assert track_file.format == "ultralytics" and sorted(t.track_id for t in track_file.tracks) == [1, 2]
    assert 12 not in track_file.tracks[0].frames
    denoise_file(src, out, filter="kalman")
    doc = json.loads(out.read_text())
    assert doc[12] == [] and doc[0][0]["box"] == frames[0][0]["box"] and doc[0][0]["track_id"] == 2
    assert doc[0][0]["keypoints"]["visible"] == frames[0][0]["keypoints"]["visible"]
    tracks = {t.track_id: t for t in read_tracks(out).tracks}
    kept = [i for i in range(30) if i != 12]
    assert mean_error(tracks[1].keypoints, clean[0, kept]) < 0.8 * mean_error(noisy[0, kept], clean[0, kept])


def test_alphapose_idx_is_the_track_id_and_halpe26(tmp_path):
    clean, noisy, scores = people(30, 26)
    results = [
        {
            "image_id": f"{i}.jpg",
            "category_id": 1,
            "keypoints": np.concatenate([noisy[p, i], scores[p, i][:, None]], axis=1).ravel().tolist(),
            "score": 2.7,
            "box": [*noisy[p, i].min(0).tolist(), 100.0, 200.0],
            "idx": [p + 7] if p else p + 7,  # versions write the id bare or in a list
        }
        for i in range(30)
        for p in range(2)
    ]
    src, out = tmp_path / "alphapose-results.json", tmp_path / "out.json"
    src.write_text(json.dumps(results))
    track_file = read_tracks(src)
    assert (track_file.format, track_file.layout) == ("alphapose", "halpe26")
    assert sorted(t.track_id for t in track_file.tracks) == [7, 8]
    denoise_file(src, out, filter="gaussian")
    doc = json.loads(out.read_text())
    assert [(r["image_id"], r["idx"], r["box"], r["score"]) for r in doc] == [
        (r["image_id"], r["idx"], r["box"], r["score"]) for r in results
    ]
    assert [r["keypoints"][2::3] for r in doc] == [r["keypoints"][2::3] for r in results]
    # the model path maps Halpe-26's body joints
    denoise_file(src, tmp_path / "model.json", model=create_model("identity"))


@pytest.mark.parametrize("names", [WHOLEBODY133, HAND21, tuple(range(40))], ids=["wholebody", "hand", "k40"])
def test_any_keypoint_count_is_smoothed_by_the_filters(tmp_path, names):
    k = len(names)
    clean, noisy, scores = people(30, k, n=1)
    records = [
        {
            "image_id": i,
            "category_id": 1,
            "keypoints": np.concatenate([noisy[0, i], scores[0, i][:, None]], axis=1).ravel().tolist(),
            "score": 0.9,
        }
        for i in range(30)
    ]
    src, out = tmp_path / "in.json", tmp_path / "out.json"
    src.write_text(json.dumps(records))
    layout = read_tracks(src).layout
    assert layout == {133: "wholebody133", 21: "hand21", 40: "unnamed40"}[k]
    denoise_file(src, out, filter="butterworth")
    result = read_tracks(out).tracks[0].keypoints
    assert mean_error(result, clean[0]) < 0.7 * mean_error(noisy[0], clean[0])
    if k != 133:
        with pytest.raises(InputError, match="in.json: .*use --filter"):
            denoise_file(src, tmp_path / "m.json", model=create_model("identity"))


def test_25_keypoints_must_be_named_for_a_model(tmp_path):
    clean, noisy, scores = people(12, 25, n=1)
    records = [
        {
            "image_id": i,
            "category_id": 1,
            "keypoints": np.concatenate([noisy[0, i], scores[0, i][:, None]], axis=1).ravel().tolist(),
        }
        for i in range(12)
    ]
    src = tmp_path / "body25.json"
    src.write_text(json.dumps(records))
    with pytest.raises(InputError) as refused:
        denoise_file(src, tmp_path / "m.json", model=create_model("identity"))
    message = str(refused.value)
    assert "\n" not in message and "body25.json" in message and "--layout body25" in message
    assert not (tmp_path / "m.json").exists()
    denoise_file(src, tmp_path / "f.json", filter="savgol")  # a filter needs no names
    named = denoise_file(src, tmp_path / "m.json", model=create_model("identity"), layout="body25")
    assert named.layout == "body25" and "left_pinky" not in SOURCE_LAYOUTS["body25"][0]


def test_another_suffix_converts_json_to_csv_and_back(tmp_path):
    clean, noisy, scores = people(20, 26)
    results = [
        {
            "image_id": f"frame{i}.png",
            "keypoints": np.concatenate([noisy[p, i], scores[p, i][:, None]], axis=1).ravel().tolist(),
            "idx": p,
        }
        for i in range(20)
        for p in range(2)
    ]
    src = tmp_path / "alphapose.json"
    src.write_text(json.dumps(results))
    summary = denoise_file(src, tmp_path / "out.csv", filter="savgol")
    table = read_tracks(tmp_path / "out.csv")
    assert summary.format == "alphapose" and table.format == "csv" and table.layout == "halpe26"
    assert sorted(t.track_id for t in table.tracks) == [0, 1]
    smoothed = read_tracks(tmp_path / "out.csv")
    np.testing.assert_allclose(
        by_start(smoothed)[0].scores, by_start(read_tracks(src))[0].scores
    )  # scores travel with the joints
    write_tracks(table, tmp_path / "back.json")  # CSV in, COCO results JSON out
    back = read_tracks(tmp_path / "back.json")
    assert back.format == "coco" and back.layout == "halpe26"
    np.testing.assert_allclose(by_start(back)[1].keypoints, by_start(table)[1].keypoints)
    with pytest.raises(InputError, match="convert to .csv or .json"):
        write_tracks(table, tmp_path / "x.npz")
