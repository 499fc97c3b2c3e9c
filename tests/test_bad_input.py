"""A corpus of bad input and faults across every command, run through the command line's error boundary.

Each case must end with exit code 1 or 2, exactly one `error:` line on stderr naming the option or file
and the problem, no traceback, and every file that existed before exactly as it was (nothing deleted,
moved or rewritten). The cases run in-process through `posedenoise.cli.run` (the same boundary the
`posedenoise` script calls) on tiny data, so the whole corpus takes seconds.
"""

from __future__ import annotations

import errno
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from posedenoise import cli
from posedenoise.prepare import prepare_dataset
from posedenoise.train import TrainConfig, fit

pytestmark = pytest.mark.usefixtures("single_thread")


# ----------------------------------------------------------------------------- the world the cases run in


def coco_records(frames, image_id=lambda t: t, extra=None):
    """COCO keypoint results of one person walking right, 17 keypoints."""
    records = []
    for t in frames:
        kps = []
        for j in range(17):
            kps += [100.0 + 3 * t + 5 * j, 200.0 + 7 * j + np.sin(t), 0.9]
        records.append({"image_id": image_id(t), "category_id": 1, "keypoints": kps, "score": 0.9})
    if extra:
        records[0].update(extra)
    return records


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_tracks):
    """A prepared dataset, a trained run, a pose file and the damaged variants the cases read."""
    root = tmp_path_factory.mktemp("bad_input")
    data = root / "data"
    prepare_dataset(tiny_tracks, data, seed=0)
    runs = root / "runs"
    fit(TrainConfig("conv3d", limit=8, max_epochs=1, model_options={"kernel_size": 3}), data, runs, "cpu")
    run_dir = runs / "conv3d" / "1.1"
    pose = root / "pose.json"
    pose.write_text(json.dumps(coco_records(range(30))))

    damaged = root / "damaged"
    damaged.mkdir()
    # a prepared folder whose manifest is a list
    (damaged / "list_manifest").mkdir()
    for name in ("frames.npz", "windows.npz", "videos.csv"):
        (damaged / "list_manifest" / name).write_bytes((data / name).read_bytes())
    (damaged / "list_manifest" / "manifest.json").write_text("[1, 2, 3]")
    # a prepared folder whose windows reach past the frames
    rows = damaged / "rows"
    rows.mkdir()
    for name in ("frames.npz", "videos.csv", "manifest.json"):
        (rows / name).write_bytes((data / name).read_bytes())
    with np.load(data / "windows.npz") as w:
        arrays = {k: w[k] for k in w.files}
    arrays["step1_start"] = arrays["step1_start"] + 10**6
    np.savez(rows / "windows.npz", **arrays)
    # a manifest nested 10,000 deep
    deep = damaged / "deep_manifest"
    deep.mkdir()
    (deep / "manifest.json").write_text("[" * 10_000 + "]" * 10_000)
    # checkpoints: without meta, garbage, a JSON file
    ckpt = torch.load(run_dir / "best.pt", weights_only=True)
    del ckpt["meta"]
    torch.save(ckpt, damaged / "nometa.pt")
    (damaged / "garbage.pt").write_bytes(b"\x00" * 200)
    torch.save({"format": "posedenoise-checkpoint", "x": Path("code")}, damaged / "pickled.pt")
    # a run folder whose history.csv is not numbers
    bad_runs = damaged / "runs"
    (bad_runs / "conv3d" / "1.1").mkdir(parents=True)
    (bad_runs / "conv3d" / "1.1" / "history.csv").write_text(
        "epoch,train_loss,val_loss,val_pck,lr,lr_reduced,seconds\n1,abc,0.5,0.2,0.001,0,1\n"
    )
    # pose files
    (damaged / "deep.json").write_text("[" * 10_000 + "]" * 10_000)
    (damaged / "id_huge.json").write_text(json.dumps(coco_records(range(30), lambda t: 1e20 + t)))
    (damaged / "id_nan.json").write_text(json.dumps(coco_records(range(30), lambda t: float("nan"))))
    (damaged / "id_inf.json").write_text(json.dumps(coco_records(range(30), lambda t: 1e400)))
    (damaged / "id_bigint.json").write_text(json.dumps(coco_records(range(30), lambda t: 10**30 + t)))
    csv_rows = "frame,joint,x,y,score\n" + "".join(
        f"{t},{j},{100 + t + j},{200 + 3 * j},0.9\n" for t in range(20) for j in range(17)
    )
    (damaged / "frame_nan.csv").write_text(csv_rows.replace("\n5,0,", "\nnan,0,", 1))
    (damaged / "frame_huge.csv").write_text(csv_rows.replace("\n5,0,", "\n1e30,0,", 1))
    np.savez(
        damaged / "frames_huge.npz",
        keypoints=np.random.default_rng(0).uniform(0, 100, (10, 17, 3)),
        frames=np.arange(10, dtype=np.int64) * 10**15,
    )
    # custom sources for prepare: a short video and a file whose joints are all invisible
    (damaged / "short.json").write_text(json.dumps(coco_records(range(3))))
    invisible = coco_records(range(30))
    for record in invisible:
        record["keypoints"][2::3] = [0.0] * 17
    (damaged / "invisible.json").write_text(json.dumps(invisible))
    table = "video,frame,joint,x,y\n" + "".join(
        f"v,{t},{j},{100 + t * 2 + 9 * i},{100 + 20 * i}\n"
        for t in range(30)
        for i, j in enumerate(("nose", "left_shoulder", "right_shoulder", "left_hip", "right_hip"))
    )
    (damaged / "table_inf_frame.csv").write_text(table.replace("\nv,7,nose", "\nv,inf,nose", 1))
    (damaged / "table_big_frame.csv").write_text(table.replace("\nv,7,nose", "\nv,1e30,nose", 1))
    brace = damaged / "BRACE" / "dataset" / "2011" / "vid"
    brace.mkdir(parents=True)
    kps = [[100.0 + j, 100.0 + 2 * j, 1.0] for j in range(17)]
    (brace / "vid_0-10_toprock.json").write_text(
        json.dumps({"vid/img-99999999999999999999999.png": {"box": [0, 0, 1, 1, 1], "keypoints": kps}})
    )
    # things the user owns
    mine = root / "mine"
    (mine / "docs").mkdir(parents=True)
    (mine / "docs" / "notes.md").write_text("my notes")
    (mine / "f.txt").write_text("my text")
    (mine / "prepared_plus").mkdir()
    for name in ("frames.npz", "windows.npz", "videos.csv", "manifest.json"):
        (mine / "prepared_plus" / name).write_bytes((data / name).read_bytes())
    (mine / "prepared_plus" / "README.md").write_text("my description of the data")
    (mine / "a_folder").mkdir()
    return {
        "root": root,
        "data": data,
        "runs": runs,
        "run": run_dir,
        "ckpt": run_dir / "best.pt",
        "pose": pose,
        "damaged": damaged,
        "mine": mine,
    }


def snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """Every file and folder under root with its size, mtime and (for files) first bytes."""
    state = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        head = path.read_bytes()[:64].hex() if path.is_file() else "dir"
        state[str(path.relative_to(root))] = (st.st_size if path.is_file() else 0, st.st_mtime_ns, head)
    return state


def run_cli(capsys, *args) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.run([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


PROGRESS = re.compile(r"[\w .]+: \d+(/\d+)?")  # a plain progress line ("read: 1200/1200")


def assert_refused(code: int, out: str, err: str, *fragments: str, after_work: bool = False) -> None:
    """Exit 1 or 2, no traceback, one `error:` line naming `fragments`; with `after_work` (a fault at
    the end of a run) other lines may come before it, else at most progress lines do."""
    assert code in (1, 2), (code, out, err)
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip() and not PROGRESS.fullmatch(line.strip())]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], err
    assert after_work or len(lines) == 1, err
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])


# ----------------------------------------------------------------------------- the corpus

# (case id, argv with {placeholders}, fragments the one error line must hold)
CASES = [
    # global
    ("no-such-command", ["frobnicate"], ["frobnicate"]),
    ("no-such-option", ["--bogus"], ["--bogus"]),
    ("models-extra-argument", ["models", "extra"], ["extra"]),
    # prepare: options
    ("prepare-videos-0", ["prepare", "--synthetic-videos", "0", "--out", "{tmp}/p"], ["--synthetic-videos"]),
    ("prepare-videos-neg", ["prepare", "--synthetic-videos", "-5", "--out", "{tmp}/p"], ["--synthetic-videos"]),
    ("prepare-videos-text", ["prepare", "--synthetic-videos", "ten", "--out", "{tmp}/p"], ["--synthetic-videos"]),
    ("prepare-margin-nan", ["prepare", "--synthetic-videos", "4", "--margin", "nan", "--out", "{tmp}/p"], ["--margin", "nan"]),
    ("prepare-margin-neg", ["prepare", "--synthetic-videos", "4", "--margin", "-0.6", "--out", "{tmp}/p"], ["--margin", "-0.6"]),
    ("prepare-margin-inf", ["prepare", "--synthetic-videos", "4", "--margin", "inf", "--out", "{tmp}/p"], ["--margin"]),
    ("prepare-margin-huge", ["prepare", "--synthetic-videos", "4", "--margin", "1e9", "--out", "{tmp}/p"], ["--margin"]),
    ("prepare-seed-neg", ["prepare", "--synthetic-videos", "4", "--seed", "-1", "--out", "{tmp}/p"], ["--seed"]),
    ("prepare-seed-huge", ["prepare", "--synthetic-videos", "4", "--seed", "99999999999999", "--out", "{tmp}/p"], ["--seed"]),
    ("prepare-split-by", ["prepare", "--split-by", "frame", "--out", "{tmp}/p"], ["--split-by"]),
    # prepare: outputs that are not posedenoise's
    ("prepare-out-file", ["prepare", "--synthetic-videos", "4", "--out", "{mine}/f.txt"], ["f.txt", "not a folder"]),
    ("prepare-out-foreign-folder", ["prepare", "--synthetic-videos", "4", "--out", "{mine}/docs"], ["docs", "did not prepare"]),
    ("prepare-out-prepared-plus", ["prepare", "--synthetic-videos", "4", "--out", "{mine}/prepared_plus"], ["prepared_plus", "README.md"]),
    ("prepare-out-under-file", ["prepare", "--synthetic-videos", "4", "--out", "{mine}/f.txt/p"], ["f.txt", "is a file"]),
    ("prepare-out-list-manifest", ["prepare", "--synthetic-videos", "4", "--out", "{damaged}/list_manifest"], ["list_manifest"]),
    # prepare: sources
    ("prepare-penn-file", ["prepare", "--penn-action", "{mine}/f.txt", "--out", "{tmp}/p"], ["f.txt"]),
    ("prepare-brace-missing", ["prepare", "--brace", "{tmp}/nope", "--out", "{tmp}/p"], ["nope"]),
    ("prepare-custom-empty-folder", ["prepare", "--custom", "{mine}/a_folder", "--out", "{tmp}/p"], ["a_folder"]),
    ("prepare-penn-missing", ["prepare", "--penn-action", "{tmp}/nope", "--out", "{tmp}/p"], ["nope"]),
    ("prepare-custom-missing", ["prepare", "--custom", "{tmp}/nope.csv", "--out", "{tmp}/p"], ["nope.csv"]),
    ("prepare-custom-short", ["prepare", "--custom", "{damaged}/short.json", "--out", "{tmp}/p"], ["short.json", "shorter than a window"]),
    ("prepare-custom-invisible", ["prepare", "--custom", "{damaged}/invisible.json", "--out", "{tmp}/p"], ["invisible.json"]),
    ("prepare-custom-deep", ["prepare", "--custom", "{damaged}/deep.json", "--out", "{tmp}/p"], ["deep.json", "nested"]),
    ("prepare-custom-id-huge", ["prepare", "--custom", "{damaged}/id_huge.json", "--out", "{tmp}/p"], ["id_huge.json", "out of range"]),
    ("prepare-custom-table-inf", ["prepare", "--custom", "{damaged}/table_inf_frame.csv", "--out", "{tmp}/p"], ["table_inf_frame.csv", "frame"]),
    ("prepare-custom-table-huge", ["prepare", "--custom", "{damaged}/table_big_frame.csv", "--out", "{tmp}/p"], ["table_big_frame.csv", "out of range"]),
    ("prepare-brace-huge-frame", ["prepare", "--brace", "{damaged}/BRACE", "--out", "{tmp}/p"], ["vid_0-10_toprock.json", "out of range"]),
    # train: options
    ("train-batch-0", ["train", "--model", "conv3d", "--batch-size", "0", "--data", "{data}", "--runs", "{tmp}/r"], ["--batch-size"]),
    ("train-batch-neg", ["train", "--model", "conv3d", "--batch-size", "-1", "--data", "{data}", "--runs", "{tmp}/r"], ["--batch-size"]),
    ("train-lr-neg", ["train", "--model", "conv3d", "--lr", "-1", "--data", "{data}", "--runs", "{tmp}/r"], ["--lr"]),
    ("train-lr-nan", ["train", "--model", "conv3d", "--lr", "nan", "--data", "{data}", "--runs", "{tmp}/r"], ["--lr", "nan"]),
    ("train-lr-inf", ["train", "--model", "conv3d", "--lr", "inf", "--data", "{data}", "--runs", "{tmp}/r"], ["--lr"]),
    ("train-seed-neg", ["train", "--model", "conv3d", "--seed", "-1", "--data", "{data}", "--runs", "{tmp}/r"], ["--seed"]),
    ("train-device-foo", ["train", "--model", "conv3d", "--device", "foo", "--data", "{data}", "--runs", "{tmp}/r"], ["--device", "foo"]),
    ("train-device-cuda-x", ["train", "--model", "conv3d", "--device", "cuda:x", "--data", "{data}", "--runs", "{tmp}/r"], ["--device"]),
    ("train-limit-neg", ["train", "--model", "conv3d", "--limit", "-3", "--data", "{data}", "--runs", "{tmp}/r"], ["--limit", "-3"]),
    ("train-limit-0", ["train", "--model", "conv3d", "--limit", "0", "--data", "{data}", "--runs", "{tmp}/r"], ["--limit"]),
    ("train-max-epochs-0", ["train", "--model", "conv3d", "--max-epochs", "0", "--data", "{data}", "--runs", "{tmp}/r"], ["--max-epochs"]),
    ("train-micro-batch-neg", ["train", "--model", "conv3d", "--micro-batch", "-1", "--data", "{data}", "--runs", "{tmp}/r"], ["--micro-batch"]),
    ("train-shift-3", ["train", "--model", "conv3d", "--shift", "3", "--data", "{data}", "--runs", "{tmp}/r"], ["shift"]),
    ("train-experiment-0", ["train", "--model", "conv3d", "--experiment", "0", "--data", "{data}", "--runs", "{tmp}/r"], ["experiment"]),
    ("train-model-foo", ["train", "--model", "foo", "--data", "{data}"], ["foo", "conv3d"]),
    ("train-no-model", ["train", "--data", "{data}", "--runs", "{tmp}/r"], ["--model"]),
    ("train-precision", ["train", "--model", "conv3d", "--precision", "fp8", "--data", "{data}"], ["--precision"]),
    ("train-noise-option-form", ["train", "--model", "conv3d", "--noise", "realistic", "--noise-option", "oops", "--data", "{data}", "--runs", "{tmp}/r"], ["KEY=VALUE"]),
    ("train-noise-option-key", ["train", "--model", "conv3d", "--noise", "realistic", "--noise-option", "bogus=1", "--data", "{data}", "--runs", "{tmp}/r"], ["bogus", "swap_rate"]),
    ("train-noise-option-nan", ["train", "--model", "conv3d", "--noise", "realistic", "--noise-option", "swap_rate=nan", "--data", "{data}", "--runs", "{tmp}/r"], ["swap_rate"]),
    ("train-noise-unknown", ["train", "--model", "conv3d", "--noise", "bogus", "--data", "{data}", "--runs", "{tmp}/r"], ["--noise", "chapter", "realistic"]),
    ("evaluate-baseline-noise-unknown", ["evaluate", "identity", "--shift", "1", "--experiment", "1", "--noise", "bogus", "--data", "{data}", "--runs", "{tmp}/r"], ["--noise", "realistic"]),
    ("train-noise-option-chapter", ["train", "--model", "conv3d", "--noise-option", "swap_rate=0.1", "--data", "{data}", "--runs", "{tmp}/r"], ["realistic"]),
    # train: data and runs
    ("train-data-missing", ["train", "--model", "conv3d", "--data", "{tmp}/nodata", "--runs", "{tmp}/r"], ["nodata"]),
    ("train-data-file", ["train", "--model", "conv3d", "--data", "{mine}/f.txt", "--runs", "{tmp}/r"], ["f.txt"]),
    ("train-data-foreign", ["train", "--model", "conv3d", "--data", "{mine}/docs", "--runs", "{tmp}/r"], ["docs", "manifest"]),
    ("train-data-list-manifest", ["train", "--model", "conv3d", "--data", "{damaged}/list_manifest", "--runs", "{tmp}/r"], ["manifest.json"]),
    ("train-data-deep-manifest", ["train", "--model", "conv3d", "--data", "{damaged}/deep_manifest", "--runs", "{tmp}/r"], ["manifest.json"]),
    ("train-data-rows", ["train", "--model", "conv3d", "--data", "{damaged}/rows", "--runs", "{tmp}/r"], ["windows.npz", "outside"]),
    ("train-runs-file", ["train", "--model", "conv3d", "--limit", "8", "--max-epochs", "1", "--data", "{data}", "--runs", "{mine}/f.txt"], ["f.txt", "is a file"]),
    ("train-existing-run", ["train", "--model", "conv3d", "--data", "{data}", "--runs", "{runs}"], ["--resume"]),
    ("train-init-missing", ["train", "--model", "conv3d", "--init-from", "{tmp}/x.pt", "--data", "{data}", "--runs", "{tmp}/r"], ["x.pt"]),
    ("train-init-garbage", ["train", "--model", "conv3d", "--init-from", "{damaged}/garbage.pt", "--data", "{data}", "--runs", "{tmp}/r"], ["garbage.pt"]),
    ("train-init-nometa", ["train", "--model", "conv3d", "--init-from", "{damaged}/nometa.pt", "--data", "{data}", "--runs", "{tmp}/r"], ["nometa.pt", "meta"]),
    # evaluate
    ("evaluate-missing", ["evaluate", "{tmp}/nothing", "--data", "{data}"], ["nothing"]),
    ("evaluate-empty-run-folder", ["evaluate", "{mine}/a_folder", "--data", "{data}"], ["a_folder", "best.pt"]),
    ("evaluate-garbage", ["evaluate", "{damaged}/garbage.pt", "--data", "{data}"], ["garbage.pt"]),
    ("evaluate-pickled", ["evaluate", "{damaged}/pickled.pt", "--data", "{data}"], ["pickled.pt"]),
    ("evaluate-nometa", ["evaluate", "{damaged}/nometa.pt", "--data", "{data}"], ["nometa.pt", "meta"]),
    ("evaluate-json-as-checkpoint", ["evaluate", "{pose}", "--data", "{data}"], ["pose.json", "checkpoint"]),
    ("evaluate-shift-with-checkpoint", ["evaluate", "{run}", "--shift", "2", "--data", "{data}"], ["--shift", "baselines"]),
    ("evaluate-baseline-no-shift", ["evaluate", "identity", "--data", "{data}", "--runs", "{tmp}/r"], ["--shift"]),
    ("evaluate-baseline-shift-3", ["evaluate", "identity", "--shift", "3", "--experiment", "1", "--data", "{data}", "--runs", "{tmp}/r"], ["shift"]),
    ("evaluate-split", ["evaluate", "{run}", "--split", "dev", "--data", "{data}"], ["split", "dev"]),
    ("evaluate-limit-0", ["evaluate", "{run}", "--limit", "0", "--data", "{data}"], ["--limit"]),
    ("evaluate-batch-0", ["evaluate", "{run}", "--batch-size", "0", "--data", "{data}"], ["--batch-size"]),
    ("evaluate-device", ["evaluate", "{run}", "--device", "gpu", "--data", "{data}"], ["--device", "gpu"]),
    ("evaluate-output-folder", ["evaluate", "{run}", "--data", "{data}", "--output", "{mine}/a_folder"], ["a_folder", "folder"]),
    ("evaluate-output-under-file", ["evaluate", "{run}", "--data", "{data}", "--output", "{mine}/f.txt/e.json"], ["f.txt", "is a file"]),
    ("evaluate-data-rows", ["evaluate", "{run}", "--data", "{damaged}/rows"], ["windows.npz"]),
    ("evaluate-baseline-noise-key", ["evaluate", "identity", "--shift", "1", "--experiment", "1", "--noise", "realistic", "--noise-option", "nope=1", "--data", "{data}", "--runs", "{tmp}/r"], ["nope", "swap_rate"]),
    # report
    ("report-runs-typo", ["report", "--data", "{data}", "--runs", "{tmp}/runz"], ["runz"]),
    ("report-runs-file", ["report", "--data", "{data}", "--runs", "{mine}/f.txt"], ["f.txt"]),
    ("report-limit-neg", ["report", "--data", "{data}", "--runs", "{runs}", "--limit", "-1"], ["--limit"]),
    ("report-batch-0", ["report", "--data", "{data}", "--runs", "{runs}", "--batch-size", "0"], ["--batch-size"]),
    ("report-split", ["report", "--data", "{data}", "--runs", "{runs}", "--split", "dev", "--no-smoothers"], ["split"]),
    ("report-two-formats", ["report", "--latex", "--csv", "--data", "{data}", "--runs", "{runs}"], ["--latex"]),
    ("report-device", ["report", "--data", "{data}", "--runs", "{runs}", "--device", "foo"], ["--device"]),
    ("report-data-missing", ["report", "--data", "{tmp}/nodata", "--runs", "{runs}"], ["nodata"]),
    ("report-figure-history", ["report", "--data", "{data}", "--runs", "{damaged}/runs", "--no-evaluate", "--no-smoothers", "--figure", "{tmp}/f.png"], ["history.csv", "non-numeric"]),
    ("report-figure-format", ["report", "--data", "{data}", "--runs", "{runs}", "--figure", "{tmp}/f.xyz"], ["f.xyz", "format"]),
    ("report-figure-folder", ["report", "--data", "{data}", "--runs", "{runs}", "--figure", "{mine}/a_folder"], ["a_folder"]),
    ("report-output-folder", ["report", "--data", "{data}", "--runs", "{runs}", "--no-evaluate", "--no-smoothers", "--output", "{mine}/a_folder"], ["a_folder"]),
    # denoise: options
    ("denoise-no-output", ["denoise", "--filter", "savgol", "{pose}"], ["-o"]),
    ("denoise-savgol-window-0", ["denoise", "--filter", "savgol", "--window-s", "0", "{pose}", "-o", "{tmp}/o.json"], ["window_s"]),
    ("denoise-savgol-window-nan", ["denoise", "--filter", "savgol", "--window-s", "nan", "{pose}", "-o", "{tmp}/o.json"], ["window_s", "nan"]),
    ("denoise-savgol-polyorder", ["denoise", "--filter", "savgol", "--polyorder", "20", "{pose}", "-o", "{tmp}/o.json"], ["polyorder"]),
    ("denoise-savgol-polyorder-neg", ["denoise", "--filter", "savgol", "--polyorder", "-1", "{pose}", "-o", "{tmp}/o.json"], ["polyorder"]),
    ("denoise-savgol-sigma", ["denoise", "--filter", "savgol", "--sigma-s", "2", "{pose}", "-o", "{tmp}/o.json"], ["--sigma-s"]),
    ("denoise-gaussian-sigma-nan", ["denoise", "--filter", "gaussian", "--sigma-s", "nan", "{pose}", "-o", "{tmp}/o.json"], ["sigma_s", "nan"]),
    ("denoise-gaussian-sigma-inf", ["denoise", "--filter", "gaussian", "--sigma-s", "inf", "{pose}", "-o", "{tmp}/o.json"], ["sigma_s"]),
    ("denoise-gaussian-sigma-huge", ["denoise", "--filter", "gaussian", "--sigma-s", "1e9", "{pose}", "-o", "{tmp}/o.json"], ["sigma_s"]),
    ("denoise-gaussian-sigma-0", ["denoise", "--filter", "gaussian", "--sigma-s", "0", "{pose}", "-o", "{tmp}/o.json"], ["sigma_s"]),
    ("denoise-oneeuro-fps-0", ["denoise", "--filter", "oneeuro", "--fps", "0", "{pose}", "-o", "{tmp}/o.json"], ["--fps"]),
    ("denoise-oneeuro-fps-nan", ["denoise", "--filter", "oneeuro", "--fps", "nan", "{pose}", "-o", "{tmp}/o.json"], ["--fps"]),
    ("denoise-oneeuro-min-cutoff", ["denoise", "--filter", "oneeuro", "--min-cutoff", "0", "{pose}", "-o", "{tmp}/o.json"], ["min_cutoff"]),
    ("denoise-oneeuro-beta", ["denoise", "--filter", "oneeuro", "--beta", "-1", "{pose}", "-o", "{tmp}/o.json"], ["beta"]),
    ("denoise-butterworth-cutoff", ["denoise", "--filter", "butterworth", "--cutoff", "1e9", "{pose}", "-o", "{tmp}/o.json"], ["cutoff"]),
    ("denoise-butterworth-order", ["denoise", "--filter", "butterworth", "--order", "0", "{pose}", "-o", "{tmp}/o.json"], ["order"]),
    ("denoise-kalman-accel-huge", ["denoise", "--filter", "kalman", "--accel", "1e300", "{pose}", "-o", "{tmp}/o.json"], ["accel"]),
    ("denoise-hampel-sigmas", ["denoise", "--filter", "savgol", "--reject", "hampel", "--n-sigmas", "-1", "{pose}", "-o", "{tmp}/o.json"], ["n_sigmas"]),
    ("denoise-preset", ["denoise", "--preset", "nope", "{pose}", "-o", "{tmp}/o.json"], ["nope"]),
    ("denoise-config-missing", ["denoise", "--filter", "savgol", "--config", "{tmp}/nope.toml", "{pose}", "-o", "{tmp}/o.json"], ["nope.toml"]),
    ("denoise-window-with-model", ["denoise", "{run}", "{pose}", "--window-s", "0.4", "-o", "{tmp}/o.json"], ["--window-s", "--filter"]),
    ("denoise-jump-neg", ["denoise", "--filter", "savgol", "--jump", "-1", "{pose}", "-o", "{tmp}/o.json"], ["--jump"]),
    ("denoise-jump-nan", ["denoise", "--filter", "savgol", "--jump", "nan", "{pose}", "-o", "{tmp}/o.json"], ["--jump"]),
    ("denoise-max-gap-neg", ["denoise", "--filter", "savgol", "--max-gap", "-1", "{pose}", "-o", "{tmp}/o.json"], ["--max-gap"]),
    ("denoise-max-gap-huge", ["denoise", "--filter", "savgol", "--max-gap", "10000000000000", "{pose}", "-o", "{tmp}/o.json"], ["--max-gap"]),
    ("denoise-max-gap-float", ["denoise", "--filter", "savgol", "--max-gap", "1e13", "{pose}", "-o", "{tmp}/o.json"], ["--max-gap"]),
    ("denoise-sigma-in-0", ["denoise", "{run}", "{pose}", "--sigma-in", "0", "-o", "{tmp}/o.json"], ["--sigma-in"]),
    ("denoise-sigma-in-nan", ["denoise", "{run}", "{pose}", "--sigma-in", "nan", "-o", "{tmp}/o.json"], ["--sigma-in"]),
    ("denoise-stride-0", ["denoise", "{run}", "{pose}", "--stride", "0", "-o", "{tmp}/o.json"], ["--stride"]),
    ("denoise-stride-9", ["denoise", "{run}", "{pose}", "--stride", "9", "-o", "{tmp}/o.json"], ["--stride"]),
    ("denoise-batch-0", ["denoise", "{run}", "{pose}", "--batch-size", "0", "-o", "{tmp}/o.json"], ["--batch-size"]),
    ("denoise-min-score-2", ["denoise", "--filter", "savgol", "--min-score", "2", "{pose}", "-o", "{tmp}/o.json"], ["--min-score"]),
    ("denoise-min-score-nan", ["denoise", "--filter", "savgol", "--min-score", "nan", "{pose}", "-o", "{tmp}/o.json"], ["--min-score"]),
    ("denoise-layout", ["denoise", "--filter", "savgol", "--layout", "coco99", "{pose}", "-o", "{tmp}/o.json"], ["coco99"]),
    ("denoise-device", ["denoise", "{run}", "{pose}", "--device", "tpu", "-o", "{tmp}/o.json"], ["--device"]),
    ("denoise-filter-name", ["denoise", "--filter", "wiener", "{pose}", "-o", "{tmp}/o.json"], ["--filter"]),
    # denoise: paths
    ("denoise-swapped", ["denoise", "{pose}", "{ckpt}", "-o", "{tmp}/o.json"], ["checkpoint first"]),
    ("denoise-swapped-run-folder", ["denoise", "{pose}", "{run}", "-o", "{tmp}/o.json"], ["checkpoint first"]),
    ("denoise-filter-two-paths", ["denoise", "--filter", "savgol", "{ckpt}", "{pose}", "-o", "{tmp}/o.json"], ["--filter"]),
    ("denoise-input-missing", ["denoise", "--filter", "savgol", "{tmp}/none.json", "-o", "{tmp}/o.json"], ["none.json"]),
    ("denoise-input-folder", ["denoise", "--filter", "savgol", "{mine}/docs", "-o", "{tmp}/o.json"], ["docs"]),
    ("denoise-output-is-input", ["denoise", "--filter", "savgol", "{pose}", "-o", "{pose}"], ["pose.json", "input"]),
    ("denoise-output-under-file", ["denoise", "--filter", "savgol", "{pose}", "-o", "{mine}/f.txt/o.json"], ["f.txt", "is a file"]),
    ("denoise-checkpoint-missing", ["denoise", "{tmp}/m.pt", "{pose}", "-o", "{tmp}/o.json"], ["m.pt"]),
    ("denoise-empty-run-folder", ["denoise", "{mine}/a_folder", "{pose}", "-o", "{tmp}/o.json"], ["a_folder"]),
    ("denoise-checkpoint-garbage", ["denoise", "{damaged}/garbage.pt", "{pose}", "-o", "{tmp}/o.json"], ["garbage.pt"]),
    ("denoise-checkpoint-nometa", ["denoise", "{damaged}/nometa.pt", "{pose}", "-o", "{tmp}/o.json"], ["nometa.pt", "meta"]),
    ("denoise-two-inputs-one-file", ["denoise", "{pose}", "{pose}", "-o", "{tmp}/o.json"], ["o.json", "folder"]),
    # denoise: damaged pose files
    ("denoise-deep-json", ["denoise", "--filter", "savgol", "{damaged}/deep.json", "-o", "{tmp}/o.json"], ["deep.json", "nested"]),
    ("denoise-id-huge", ["denoise", "--filter", "savgol", "{damaged}/id_huge.json", "-o", "{tmp}/o.json"], ["id_huge.json", "out of range"]),
    ("denoise-id-bigint", ["denoise", "--filter", "savgol", "{damaged}/id_bigint.json", "-o", "{tmp}/o.json"], ["id_bigint.json", "out of range"]),
    ("denoise-id-nan", ["denoise", "--filter", "savgol", "{damaged}/id_nan.json", "-o", "{tmp}/o.json"], ["id_nan.json", "not finite"]),
    ("denoise-id-inf", ["denoise", "--filter", "savgol", "{damaged}/id_inf.json", "-o", "{tmp}/o.json"], ["id_inf.json", "not finite"]),
    ("denoise-csv-frame-nan", ["denoise", "--filter", "savgol", "{damaged}/frame_nan.csv", "-o", "{tmp}/o.csv"], ["frame_nan.csv", "frame"]),
    ("denoise-csv-frame-huge", ["denoise", "--filter", "savgol", "{damaged}/frame_huge.csv", "-o", "{tmp}/o.csv"], ["frame_huge.csv", "out of range"]),
    ("denoise-npz-frames-huge", ["denoise", "--filter", "savgol", "{damaged}/frames_huge.npz", "-o", "{tmp}/o.npz"], ["frames_huge.npz", "out of range"]),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_in_one_line_and_touches_nothing(case, world, tmp_path, capsys):
    _, argv, fragments = case
    places = {k: str(v) for k, v in world.items()} | {"tmp": str(tmp_path)}
    args = [a.format(**places) for a in argv]
    before = snapshot(world["root"])
    code, out, err = run_cli(capsys, *args)
    assert_refused(code, out, err, *fragments)
    assert snapshot(world["root"]) == before
    assert (
        not (tmp_path / "p").exists() and not (tmp_path / "r").exists() and not (tmp_path / "runz").exists()
    )
    assert not list(tmp_path.glob("o.*")) and not list(tmp_path.glob(".*"))


# ----------------------------------------------------------------------------- faults while writing


@pytest.mark.parametrize(
    ("fault", "words"),
    [(errno.ENOSPC, "no space left"), (errno.EROFS, "read-only"), (errno.EACCES, "permission denied")],
)
def test_a_failed_write_names_the_output_and_leaves_nothing_behind(
    fault, words, world, tmp_path, capsys, monkeypatch
):
    def failing_replace(src, dst):
        raise OSError(fault, os.strerror(fault), str(src))

    monkeypatch.setattr(os, "replace", failing_replace)
    target = tmp_path / "smooth.json"
    code, out, err = run_cli(capsys, "denoise", "--filter", "savgol", world["pose"], "-o", target)
    assert_refused(code, out, err, str(target), words, after_work=True)
    assert list(tmp_path.iterdir()) == []  # no temporary file left
    code, out, err = run_cli(capsys, "prepare", "--synthetic-videos", 4, "--out", tmp_path / "p")
    assert_refused(code, out, err, str(tmp_path / "p"), words, after_work=True)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_named(world, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        code, out, err = run_cli(
            capsys, "denoise", "--filter", "savgol", world["pose"], "-o", locked / "o.json"
        )
        assert_refused(code, out, err, "o.json", "permission denied")
        code, out, err = run_cli(capsys, "prepare", "--synthetic-videos", 4, "--out", locked / "p")
        assert_refused(code, out, err, "locked")
    finally:
        locked.chmod(0o755)
    assert list(locked.iterdir()) == []


# ----------------------------------------------------------------------------- what is allowed and kept


def test_prepare_replaces_its_own_folder_and_fills_an_empty_one(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run_cli(capsys, "prepare", "--synthetic-videos", 6, "--out", empty)
    assert code == 0, err
    before = (empty / "manifest.json").read_text()
    code, _, err = run_cli(capsys, "prepare", "--synthetic-videos", 6, "--seed", 3, "--out", empty)
    assert code == 0, err
    assert (empty / "manifest.json").read_text() != before
    assert sorted(p.name for p in empty.iterdir()) == [
        "frames.npz",
        "manifest.json",
        "videos.csv",
        "windows.npz",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]  # no backup or temporary folder left


def test_split_by_video_without_validation_windows_warns(tmp_path, capsys):
    code, out, err = run_cli(
        capsys, "prepare", "--synthetic-videos", 2, "--split-by", "video", "--out", tmp_path / "p"
    )
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and "0 test windows at step1/step2" in warnings[0]
    assert "--split-by video" in warnings[0]


def test_report_with_a_mistyped_runs_folder_creates_nothing(world, tmp_path, capsys):
    code, out, err = run_cli(capsys, "report", "--data", world["data"], "--runs", tmp_path / "runz")
    assert_refused(code, out, err, "runz", "no such folder")
    assert list(tmp_path.iterdir()) == []


def test_resume_rebuilds_a_short_history_and_removes_stale_temporary_files(tiny_tracks, tmp_path, capsys):
    data = tmp_path / "data"
    prepare_dataset(tiny_tracks, data, seed=0)
    args = ["train", "--model", "conv3d", "--limit", 8, "--data", data, "--runs", tmp_path / "runs"]
    code, _, err = run_cli(capsys, *args, "--max-epochs", 2)
    assert code == 0, err
    run_dir = tmp_path / "runs" / "conv3d" / "1.1"
    full = (run_dir / "history.csv").read_text().splitlines()
    assert len(full) == 3  # header + 2 epochs
    # killed between writing last.pt and history.csv of epoch 2, and during a checkpoint write
    (run_dir / "history.csv").write_text("\n".join(full[:2]) + "\n")
    stale = [run_dir / ".last.pt.a1b2c3d4.tmp", run_dir / ".best.pt.zz_9xk0q.tmp"]
    kept = [run_dir / ".last.pt.mine.tmp", run_dir / "last.pt.a1b2c3d4.tmp", run_dir / "notes.tmp"]
    for path in stale + kept:
        path.write_text("x")
    code, _, err = run_cli(capsys, *args, "--max-epochs", 2, "--resume")
    assert code == 0, err
    assert (run_dir / "history.csv").read_text().splitlines() == full
    assert not any(p.exists() for p in stale) and all(p.exists() for p in kept)
    code, _, err = run_cli(capsys, *args, "--max-epochs", 3, "--resume")
    assert code == 0, err
    assert len((run_dir / "history.csv").read_text().splitlines()) == 4


def test_training_with_fewer_batches_than_processes_is_refused(tiny_tracks, tmp_path, monkeypatch):
    from posedenoise.errors import PoseDenoiseError

    data = tmp_path / "data"
    prepare_dataset(tiny_tracks, data, seed=0)
    # what each of 4 torchrun processes sees; the check comes before any process group is needed
    monkeypatch.setattr("posedenoise.runtime.distributed_env", lambda: (0, 4, 0))
    monkeypatch.setattr("torch.distributed.is_initialized", lambda: True)
    config = TrainConfig("conv3d", limit=8, max_epochs=1, batch_size=16)
    with pytest.raises(PoseDenoiseError, match="fewer than the 4 processes: every process would get 0"):
        fit(config, data, tmp_path / "runs", "cpu")
    assert not (tmp_path / "runs" / "conv3d" / "1.1" / "best.pt").exists()


def test_a_checkpoint_given_in_place_of_the_model_names_the_order(world, tmp_path, capsys):
    code, out, err = run_cli(capsys, "denoise", world["pose"], world["ckpt"], "-o", tmp_path / "o.json")
    assert_refused(code, out, err, f"posedenoise denoise {world['ckpt']} {world['pose']}")
    assert "weights_only" not in err
