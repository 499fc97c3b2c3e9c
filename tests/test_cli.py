"""The command line as a user meets it: real subprocesses, exit codes, one-line errors."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import scipy.io

COMMANDS = ["prepare", "train", "models", "evaluate", "report", "denoise"]


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "posedenoise", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def assert_one_line_error(proc, *fragments):
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A prepared synthetic set and one tiny trained run, made through the CLI."""
    root = tmp_path_factory.mktemp("cli")
    proc = run("prepare", "--synthetic", "--synthetic-videos", 24, "--out", root / "data", "--seed", 5)
    assert proc.returncode == 0, proc.stderr
    assert "synthetic" in proc.stderr and "train" in proc.stdout and "test" in proc.stdout
    proc = run(
        "train",
        "--model",
        "conv3d",
        "--shift",
        2,
        "--limit",
        24,
        "--max-epochs",
        1,
        "--device",
        "cpu",
        "--data",
        root / "data",
        "--runs",
        root / "runs",
    )
    assert proc.returncode == 0, proc.stderr
    return root


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    proc = run(command, "--help")
    assert proc.returncode == 0 and "Usage" in proc.stdout


def test_prepare_defaults_to_synthetic_and_says_so(tmp_path):
    proc = run("prepare", "--synthetic-videos", 12, "--out", tmp_path / "p", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "no real datasets under data/raw" in proc.stderr
    manifest = json.loads((tmp_path / "p" / "manifest.json").read_text())
    assert manifest["sources"] == ["synthetic"]


def test_train_evaluate_report_from_the_cli(workdir):
    run_dir = workdir / "runs" / "conv3d" / "2.1"
    assert {"config.json", "history.csv", "best.pt", "last.pt"} <= {p.name for p in run_dir.iterdir()}
    proc = run("evaluate", run_dir, "--data", workdir / "data", "--output", workdir / "e.json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads((workdir / "e.json").read_text())
    assert result["model"] == "conv3d" and result["shift"] == 2 and result["split"] == "test"
    assert set(result["pck"]) == {"0.05", "0.1", "0.2"}
    proc = run("report", "--markdown", "--data", workdir / "data", "--runs", workdir / "runs", "--limit", 24)
    assert proc.returncode == 0, proc.stderr
    assert "3DConv" in proc.stdout and "Identity function" in proc.stdout
    proc = run(
        "report",
        "--latex",
        "--output",
        workdir / "t.tex",
        "--data",
        workdir / "data",
        "--runs",
        workdir / "runs",
        "--limit",
        24,
    )
    assert proc.returncode == 0 and "\\begin{tabular}" in (workdir / "t.tex").read_text()


def test_training_an_existing_run_needs_resume(workdir):
    proc = run(
        "train",
        "--model",
        "conv3d",
        "--shift",
        2,
        "--limit",
        24,
        "--max-epochs",
        1,
        "--data",
        workdir / "data",
        "--runs",
        workdir / "runs",
    )
    assert_one_line_error(proc, "--resume")


def test_model_options_reach_the_run_and_its_checkpoint(workdir, tmp_path):
    options = ["zero_init=true", "interval=1", "dropout=0", "embed_dim=16", "heads=2", "ffn=16"]
    proc = run(
        "train", "--model", "deciwatch", "--shift", 1, "--experiment", 2, "--limit", 16, "--max-epochs", 1,
        *[arg for option in options for arg in ("--model-option", option)],
        "--data", workdir / "data", "--runs", tmp_path / "runs",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    run_dir = tmp_path / "runs" / "deciwatch" / "1.2"
    expected = {"zero_init": True, "interval": 1, "dropout": 0.0, "embed_dim": 16, "heads": 2, "ffn": 16}
    assert json.loads((run_dir / "config.json").read_text())["model_options"] == expected
    proc = run("evaluate", run_dir, "--data", workdir / "data", "--limit", 8, "--output", tmp_path / "e.json")
    assert proc.returncode == 0, proc.stderr
    for bad, fragment in (
        (["--model", "deciwatch", "--model-option", "zero_init=maybe"], "zero_init"),
        (["--model", "conv3d", "--model-option", "zero_init=true"], "zero_init"),
        (["--model", "conv3d", "--model-option", "oops"], "KEY=VALUE"),
        (["--all", "--model-option", "zero_init=true"], "--model"),
    ):
        assert_one_line_error(
            run("train", *bad, "--data", workdir / "data", "--runs", tmp_path / "r"), fragment
        )


def test_denoise_with_a_smoother_writes_the_same_format(tmp_path):
    t = np.arange(40)
    records = []
    for i in t:
        kps = []
        for j in range(17):
            kps += [100 + 3 * i + 5 * j + np.sin(i), 200 + 2 * j + np.cos(i), 0.9]
        records.append(
            {"image_id": int(i), "category_id": 1, "keypoints": kps, "score": 0.9, "extra": "kept"}
        )
    src = tmp_path / "in.json"
    src.write_text(json.dumps(records))
    proc = run("denoise", "--filter", "gaussian", src, "-o", tmp_path / "out.json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads((tmp_path / "out.json").read_text())
    assert len(out) == 40 and out[0]["extra"] == "kept" and len(out[0]["keypoints"]) == 51


def test_bad_inputs_give_one_line_errors(tmp_path, workdir):
    assert_one_line_error(
        run("prepare", "--penn-action", tmp_path / "missing", "--out", tmp_path / "o"), "missing"
    )
    labels = tmp_path / "Penn_Action" / "labels"
    labels.mkdir(parents=True)
    (labels / "0001.mat").write_bytes(b"this is not a mat file")
    assert_one_line_error(
        run("prepare", "--penn-action", tmp_path / "Penn_Action", "--out", tmp_path / "o"), "0001.mat"
    )
    scipy.io.savemat(
        labels / "0001.mat", {"x": np.ones((10, 12)), "y": np.ones((10, 12)), "visibility": np.ones((10, 12))}
    )
    assert_one_line_error(
        run("prepare", "--penn-action", tmp_path / "Penn_Action", "--out", tmp_path / "o"), "0001.mat"
    )
    assert not (tmp_path / "o").exists()
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('[{"image_id": 1, "keypoints": [1, 2')
    assert_one_line_error(
        run("denoise", "--filter", "savgol", bad_json, "-o", tmp_path / "x.json"), "bad.json"
    )
    assert_one_line_error(run("evaluate", tmp_path / "nothing"), "nothing")
    assert_one_line_error(run("train", "--model", "conv3d", "--data", tmp_path / "nodata"), "nodata")
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"\x00" * 100)
    assert_one_line_error(run("evaluate", broken, "--data", workdir / "data"), "broken.pt")


def test_failed_prepare_keeps_the_previous_dataset(tmp_path):
    assert run("prepare", "--synthetic", "--synthetic-videos", 8, "--out", tmp_path / "p").returncode == 0
    before = (tmp_path / "p" / "manifest.json").read_text()
    csv = tmp_path / "t.csv"
    csv.write_text("video,frame,joint,x,y\nv,1,nose,1,nan\n")
    assert_one_line_error(run("prepare", "--custom", csv, "--out", tmp_path / "p"), "t.csv")
    assert (tmp_path / "p" / "manifest.json").read_text() == before


def test_realistic_noise_from_the_cli(workdir):
    proc = run(
        "evaluate",
        "identity",
        "--shift",
        1,
        "--experiment",
        2,
        "--noise",
        "realistic",
        "--limit",
        40,
        "--data",
        workdir / "data",
        "--runs",
        workdir / "runs",
    )
    assert proc.returncode == 0, proc.stderr
    assert "swapped joints repaired" in proc.stdout
    assert (workdir / "runs" / "baselines" / "identity" / "1.2-realistic" / "eval-test.json").exists()
    assert_one_line_error(
        run("train", "--model", "conv3d", "--noise-option", "oops", "--data", workdir / "data"), "KEY=VALUE"
    )
    assert_one_line_error(
        run("train", "--model", "convlstm-s", "--micro-batch", "-1", "--data", workdir / "data"),
        "micro-batch",
    )


def test_fine_tuning_data_from_posetrack_annotations_and_a_table(tmp_path, workdir):
    # a PoseTrack-style annotation file (one video, two people) and a long table, prepared together
    rng = np.random.default_rng(0)
    images, annotations = [{"id": t, "vid_id": "1"} for t in range(40)], []
    for t in range(40):
        for p in range(2):
            xy = rng.uniform(0, 5, (17, 2)) + np.linspace(100, 300, 17)[:, None] + [400 * p + 2 * t, 0]
            kps = np.concatenate([xy, np.ones((17, 1))], axis=1).ravel().tolist()
            annotations.append({"image_id": t, "track_id": p, "keypoints": kps})
    posetrack = tmp_path / "000001_bonn_train.json"
    posetrack.write_text(json.dumps({"images": images, "annotations": annotations}))
    table = tmp_path / "table.csv"
    table.write_text(
        "video,frame,joint,x,y\n"
        + "".join(f"v,{f},{j},{100 + 50 * i + f},{100 + 30 * i}\n" for f in range(30) for i, j in
                  enumerate(("nose", "left_shoulder", "right_shoulder", "left_hip", "right_hip")))
    )  # fmt: skip
    proc = run("prepare", "--custom", posetrack, "--custom", table, "--out", tmp_path / "mine")
    assert proc.returncode == 0, proc.stderr
    assert "custom tracks from" in proc.stderr and "(2 files)" in proc.stderr
    videos = pd.read_csv(tmp_path / "mine" / "videos.csv")
    assert videos["name"].tolist() == ["000001_bonn_train.json/0", "000001_bonn_train.json/1", "v"]
    assert set(videos["source"]) == {"custom"}
    # fine-tune a trained run on it
    proc = run(
        "train", "--model", "conv3d", "--data", tmp_path / "mine", "--runs", tmp_path / "runs",
        "--init-from", workdir / "runs" / "conv3d" / "2.1" / "best.pt", "--lr", "1e-4", "--max-epochs", 1,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "runs" / "conv3d" / "1.1" / "best.pt").exists()


def test_models_lists_every_model_with_its_size():
    proc = run("models")
    assert proc.returncode == 0, proc.stderr
    for name in ("conv3d", "deciwatch", "convlstm-s", "convlstm-c", "identity"):
        assert name in proc.stdout
    assert "3DConv" in proc.stdout and "heatmaps" in proc.stdout and "coords" in proc.stdout


def test_every_command_runs_for_real(workdir, tmp_path):
    """The commands not run above, on the tiny run: a model on a pose file, Figure 1, a smoother baseline."""
    t = np.arange(30)
    records = [
        {"image_id": int(i), "category_id": 1, "score": 0.9,
         "keypoints": [float(v) for j in range(17) for v in (100 + 3 * i + 5 * j, 200 + 7 * j, 0.9)]}
        for i in t
    ]  # fmt: skip
    (tmp_path / "in.json").write_text(json.dumps(records))
    run_dir = workdir / "runs" / "conv3d" / "2.1"
    proc = run("denoise", run_dir, tmp_path / "in.json", "-o", tmp_path / "out.json")
    assert proc.returncode == 0, proc.stderr
    assert (
        "method: model conv3d" in proc.stdout and len(json.loads((tmp_path / "out.json").read_text())) == 30
    )
    proc = run(
        "report", "--data", workdir / "data", "--runs", workdir / "runs", "--limit", 24, "--no-smoothers",
        "--csv", "--figure", tmp_path / "figure1.png",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "figure1.png").stat().st_size > 0 and "Identity function" in proc.stdout
    proc = run(
        "evaluate", "savgol", "--shift", 1, "--experiment", 2, "--limit", 24, "--data", workdir / "data",
        "--runs", workdir / "runs",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("savgol 1.2 on test")


def test_version_short_help_and_no_torch_at_start_up():
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == "posedenoise 0.1.0"
    proc = run("train", "-h")
    assert proc.returncode == 0 and "--batch-size" in proc.stdout
    # `--help` and usage errors must not wait for PyTorch: the command line imports it in the commands
    heavy = "('torch', 'posedenoise.train')"
    code = f"import sys, posedenoise.cli; print([m for m in {heavy} if m in sys.modules])"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stdout + proc.stderr


def test_ctrl_c_says_how_to_resume(workdir, tmp_path):
    args = [
        sys.executable,
        "-m",
        "posedenoise",
        "train",
        "--model",
        "conv3d",
        "--limit",
        16,
        "--max-epochs",
        50,
    ]
    args += ["--device", "cpu", "--data", workdir / "data", "--runs", tmp_path / "runs"]
    proc = subprocess.Popen(
        list(map(str, args)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as in a terminal: a suite started in the background by a shell inherits an ignored SIGINT
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    last = tmp_path / "runs" / "conv3d" / "1.1" / "last.pt"
    try:
        deadline = time.monotonic() + 240
        while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert last.exists(), "no epoch finished"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "interrupted" in errors[0] and "--resume" in errors[0], stderr
    assert "last.pt" in errors[0]
