"""COCO results streamed in bounded memory: the same tracks and the same written file as reading it whole."""

import json

import numpy as np
import pytest

from posedenoise import streaming
from posedenoise.denoise import denoise_file
from posedenoise.errors import InputError
from posedenoise.streaming import NotStreamable, StreamedResults
from posedenoise.tracks import read_tracks, write_tracks
from test_tracks import coco_results, person


@pytest.fixture
def small_pieces(monkeypatch):
    """Blocks of 300 bytes and batches of 7 records: records and numbers cut at every kind of place."""
    monkeypatch.setattr(streaming, "BLOCK", 300)
    monkeypatch.setattr(streaming, "BATCH", 7)


def crowd(frames=12, people=3):
    walkers = [person(frames, x0=80 + 260 * p, seed=p) for p in range(people)]
    records = coco_results(walkers)
    rng = np.random.default_rng(0)
    for start in range(0, len(records), people):  # the detector lists people in any order
        records[start : start + people] = [records[start + i] for i in rng.permutation(people)]
    return records


def streamed_and_whole(src, tmp_path, shift=0.25):
    """Write `src` back with every coordinate shifted, once streamed and once read whole."""
    with StreamedResults(src, tmp_path / "streamed.json") as streamed:
        for i, track in enumerate(streamed.tracks()):
            streamed.set_keypoints(i, track, track.keypoints + shift)
        streamed.write(tmp_path / "streamed.json")
        tracks = [
            (t.track_id, t.frames.tolist(), json.dumps(t.keypoints.tolist())) for t in streamed.tracks()
        ]
    whole = read_tracks(src)
    write_tracks(whole.with_keypoints([t.keypoints + shift for t in whole.tracks]), tmp_path / "whole.json")
    expected = [(t.track_id, t.frames.tolist(), json.dumps(t.keypoints.tolist())) for t in whole.tracks]
    return tracks, expected


@pytest.mark.parametrize("indent", [None, 2])
@pytest.mark.parametrize("wrapped", [False, True])
@pytest.mark.parametrize("int_score", [False, True])
def test_streamed_file_is_written_as_the_whole_document_would_be(
    tmp_path, small_pieces, indent, wrapped, int_score
):
    records = crowd()
    records[4]["keypoints"][3] = float("nan")  # a joint without coordinates
    records[4]["keypoints"][5] = 0 if int_score else 0.0  # written back as it was: 0 or 0.0
    doc = {"fps": 25, "note": "über", "results": records, "tail": [1, {"a": None}]} if wrapped else records
    if not wrapped:
        records[9]["extra"] = "a \x00 in a string"  # as the spilled texts mark the keypoints' place
    src = tmp_path / "crowd.json"
    src.write_text(json.dumps(doc, indent=indent))
    tracks, expected = streamed_and_whole(src, tmp_path)
    assert tracks == expected
    assert (tmp_path / "streamed.json").read_text() == (tmp_path / "whole.json").read_text()


def test_frames_out_of_order_and_track_ids(tmp_path, small_pieces):
    records = crowd(frames=10)
    shuffled = [records[i] for i in np.random.default_rng(1).permutation(len(records))]
    src = tmp_path / "shuffled.json"
    src.write_text(json.dumps(shuffled))
    tracks, expected = streamed_and_whole(src, tmp_path)
    assert len(tracks) == 3 and tracks == expected
    assert (tmp_path / "streamed.json").read_text() == (tmp_path / "whole.json").read_text()

    for i, rec in enumerate(records):
        rec["track_id"] = f"p{i % 3}"
    src.write_text(json.dumps(records))
    tracks, expected = streamed_and_whole(src, tmp_path)
    assert [t[0] for t in tracks] == ["p0", "p1", "p2"] and tracks == expected


def test_denoise_streams_coco_and_reads_other_json_whole(tmp_path, small_pieces):
    src = tmp_path / "crowd.json"
    src.write_text(json.dumps(crowd()))
    seen = []
    summary = denoise_file(src, tmp_path / "out.json", filter="gaussian", progress=lambda *a: seen.append(a))
    assert summary.tracks == 3 and summary.records == 36
    stages = [s for s, _, _ in seen]
    assert stages.index("read") < stages.index("denoise") < stages.index("write")
    assert seen[-1][1] == seen[-1][2]  # the last report is complete
    assert not list(tmp_path.glob(".out.json*"))  # the temporary folder is gone

    mmpose = {
        "meta_info": {},
        "instance_info": [{"frame_id": 1, "instances": [{"keypoints": [[1.0, 2.0]] * 17}]}],
    }
    (tmp_path / "mm.json").write_text(json.dumps(mmpose))
    with pytest.raises(NotStreamable):
        StreamedResults(tmp_path / "mm.json", tmp_path / "x.json").__enter__()
    assert denoise_file(tmp_path / "mm.json", tmp_path / "mm_out.json", filter="gaussian").format == "mmpose"


def test_an_unknown_layout_is_named(tmp_path):
    src = tmp_path / "crowd.json"
    src.write_text(json.dumps(crowd()))
    with pytest.raises(InputError, match="unknown layout 'nonsense'"):
        denoise_file(src, tmp_path / "out.json", filter="gaussian", layout="nonsense")


@pytest.mark.parametrize(
    "text, problem",
    [
        (
            '[{"image_id": 1,\n "keypoints": [1, 2, 3}]',
            "malformed JSON (Expecting ',' delimiter at line 2, column",
        ),
        ("[1, 2", "malformed JSON"),
        (
            f'[{{"image_id": 1, "keypoints": {[1, 2, 1] * 17}}}]  x',
            "malformed JSON (Extra data at line 1, column 188)",
        ),
        ("[]", "no detections"),
        (
            f'[{{"image_id": 1, "keypoints": {[1, 2, 1] * 17}}}, '
            f'{{"image_id": 2, "keypoints": [true, 2, 1{", 1" * 48}]}}]',
            "result 1: non-numeric",
        ),
    ],
)
def test_bad_streamed_files_name_the_problem(tmp_path, text, problem):
    src = tmp_path / "bad.json"
    src.write_text(text)
    with pytest.raises(InputError) as info:
        denoise_file(src, tmp_path / "out.json", filter="savgol")
    assert problem in str(info.value) and str(src) in str(info.value)
    assert list(tmp_path.iterdir()) == [src]
