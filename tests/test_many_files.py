"""`denoise` on several files or a folder: outputs in a folder, in parallel, one bad file among good ones."""

import json
import subprocess
import sys

import pytest

from posedenoise.denoise import denoise_file, denoise_many, plan_outputs
from posedenoise.errors import InputError
from test_tracks import coco_results, person


def video(path, seed):
    path.write_text(
        json.dumps(coco_results([person(30, x0=100, seed=seed), person(30, x0=600, seed=seed + 1)]))
    )
    return path


def test_a_folder_with_one_bad_file_is_reported_and_the_others_finish(tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    for i in range(3):
        video(folder / f"v{i}.json", i)
    (folder / "broken.json").write_text('[{"image_id": 1, "keypoints": [1, 2')
    (folder / "v0.denoise.json").write_text("{}")  # a settings file of an earlier run: not an input
    (folder / "notes.txt").write_text("not a pose file")
    proc = subprocess.run(
        [sys.executable, "-m", "posedenoise", "denoise", "--filter", "gaussian", folder,
         "-o", tmp_path / "out", "--jobs", "2"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "failed: " in proc.stderr and "broken.json: malformed JSON" in proc.stderr
    assert "error: 1 of 4 file(s) failed" in proc.stderr
    for i in range(3):
        assert f"v{i}.json -> " in proc.stdout and "2 track(s), 60 person-frames" in proc.stdout
        # each output is what denoising that file alone writes
        alone = tmp_path / f"alone{i}.json"
        denoise_file(folder / f"v{i}.json", alone, filter="gaussian")
        assert (tmp_path / "out" / f"v{i}.json").read_text() == alone.read_text()
    assert not (tmp_path / "out" / "broken.json").exists()
    table = proc.stdout[proc.stdout.index("denoise: 4 file(s)") :]
    assert "broken.json" in table and "failed" in table and table.count(" ok ") == 3


def test_outputs_are_planned_into_a_folder_without_collisions(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    one = video(a / "one.json", 0)
    assert plan_outputs([one], tmp_path / "x.json") == [(one, tmp_path / "x.json")]
    with pytest.raises(InputError, match="written over"):  # an existing folder as -o: its input
        plan_outputs([one], a)
    assert plan_outputs([one], b) == [(one, b / "one.json")]
    video(b / "one.json", 1)
    with pytest.raises(InputError, match="same name"):
        plan_outputs([a, b], tmp_path / "out")
    with pytest.raises(InputError, match="written over by its output"):
        plan_outputs([a], a)
    with pytest.raises(InputError, match="looks like a file name"):
        plan_outputs([a / "one.json", b / "one.json"], tmp_path / "out.json")
    with pytest.raises(InputError, match="no pose files"):
        plan_outputs([_empty(tmp_path)], tmp_path / "o")


def _empty(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    return empty


def test_denoise_many_in_one_process_reports_each_file(tmp_path):
    pairs = [
        (video(tmp_path / "good.json", 0), tmp_path / "out" / "good.json"),
        (tmp_path / "gone.json", tmp_path / "out" / "gone.json"),
    ]
    seen = []
    results = denoise_many(pairs, jobs=1, on_done=seen.append, filter="savgol")
    assert [r.input for r in seen] == [str(p) for p, _ in pairs]
    assert results[0].summary.tracks == 2 and results[0].error is None
    assert results[1].summary is None and "gone.json: file not found" in results[1].error
