"""`denoise` with classic filters from the command line: the defaults --help states are the ones used."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from posedenoise.filter_options import FILTERS
from posedenoise.tracks import read_tracks
from test_tracks import coco_results, person


def run(*args, columns=None):
    env = dict(os.environ)
    if columns:
        env["COLUMNS"] = str(columns)
    return subprocess.run(
        [sys.executable, "-m", "posedenoise", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def help_text():
    proc = run("denoise", "--help", columns=400)
    assert proc.returncode == 0, proc.stderr
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", proc.stdout).split())


def stated_defaults(text):
    """{filter: {param: value}} from the 'Defaults: ...' paragraph of --help."""
    body = re.search(r"Defaults: (.*?)\. Presets:", text).group(1)
    out = {}
    for part in body.split("; "):
        name, params = part.split(": ", 1)
        values = {}
        for item in params.split(", "):
            key, value = item.split()[:2]
            values[key] = {"true": True, "false": False}.get(value, None)
            if values[key] is None:
                values[key] = float(value)
        out[name] = values
    return out


def track_file(path, t=90, fps=None):
    rng = np.random.default_rng(0)
    time = np.arange(t)
    base = rng.uniform(0, 200, size=(17, 2))
    clean = base[None] + np.stack([3.0 * time, 20 * np.sin(time / 7)], axis=1)[:, None] + 300
    noisy = clean + rng.normal(0, 4.0, size=clean.shape)
    scores = np.full((t, 17), 0.9)
    scores[20:24, 9] = 0.1  # a doubted left wrist
    records = [
        {
            "image_id": int(i),
            "category_id": 1,
            "keypoints": np.concatenate([noisy[i], scores[i][:, None]], axis=1).ravel().tolist(),
            "score": 0.9,
        }
        for i in time
    ]
    doc = records if fps is None else {"fps": fps, "results": records}
    path.write_text(json.dumps(doc))
    return clean, noisy


@pytest.fixture(scope="module")
def stated():
    text = help_text()
    return text, stated_defaults(text)


def test_help_states_every_filter_with_its_defaults(stated):
    text, defaults = stated
    assert set(FILTERS) <= set(defaults)
    assert "interpolated between detections and smoothed" in text and "--keep-missing" in text
    assert re.search(r"--min-score .*?Default: 0\.3\.", text)


@pytest.mark.parametrize("name", FILTERS)
def test_defaults_stated_in_help_are_the_ones_used(tmp_path, stated, name):
    _, defaults = stated
    src, out = tmp_path / "in.json", tmp_path / "out.json"
    clean, noisy = track_file(src)
    proc = run("denoise", "--filter", name, src, "-o", out)
    assert proc.returncode == 0, proc.stderr
    recorded = json.loads((tmp_path / "out.denoise.json").read_text())
    assert recorded["filter"] == name
    assert recorded["filter_params"] == pytest.approx(defaults[name])
    assert (recorded["min_score"], recorded["fill_missing"]) == (0.3, True)
    # the summary prints the jitter before and after, and it fell
    line = next(x for x in proc.stdout.splitlines() if x.startswith("jitter"))
    before, after = map(float, re.findall(r"([\d.]+) -> ([\d.]+)", line)[0])
    assert after < 0.6 * before and recorded["jitter_before"] == pytest.approx(before, abs=0.01)
    # the doubted wrist was interpolated and smoothed, not left as detected
    result = read_tracks(out).tracks[0].keypoints
    assert (result[20:24, 9] != noisy[20:24, 9]).all()


def test_keep_missing_preset_config_and_conversion_of_units(tmp_path):
    src = tmp_path / "in.json"
    _, noisy = track_file(src, fps=60.0)
    kept = tmp_path / "kept.json"
    proc = run("denoise", "--filter", "savgol", "--keep-missing", src, "-o", kept)
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(read_tracks(kept).tracks[0].keypoints[20:24, 9], noisy[20:24, 9])
    assert "window_s 0.4 s" in proc.stdout and "delay for live use: 12 frame(s)" in proc.stdout  # 60 fps
    config = tmp_path / "run.toml"
    config.write_text('preset = "gait"\ncutoff = 8.0\n')
    out = tmp_path / "gait.json"
    proc = run("denoise", "--config", config, "--order", 2, src, "-o", out)
    assert proc.returncode == 0, proc.stderr
    recorded = json.loads((tmp_path / "gait.denoise.json").read_text())
    assert recorded["filter"] == "butterworth" and recorded["filter_params"] == {"cutoff": 8.0, "order": 2}
    assert recorded["reject"] == "hampel" and recorded["fps"] == 60.0
    assert "outlier rejection hampel" in proc.stdout
    proc = run("denoise", "--filter", "savgol", "--cutoff", 3, src, "-o", tmp_path / "x.json")
    assert proc.returncode == 1 and proc.stderr.strip() == "error: --cutoff not used by --filter savgol"
    proc = run("denoise", "--filter", "butterworth", "--cutoff", 40, src, "-o", tmp_path / "x.json")
    assert proc.returncode == 1 and "half the frame rate (30 Hz)" in proc.stderr
    assert not (tmp_path / "x.json").exists()


def test_plot_swap_repair_and_model_layout_errors_from_the_cli(tmp_path):
    src = tmp_path / "in.json"
    track_file(src)
    png = tmp_path / "joints.png"
    proc = run(
        "denoise", "--filter", "butterworth", "--repair-swaps", "--plot", png, "--plot-joints",
        "left_wrist,right_knee", src, "-o", tmp_path / "out.csv",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert "plot of left_wrist, right_knee written to" in proc.stdout
    assert "left/right swap repair, then filter butterworth" in proc.stdout
    assert (tmp_path / "out.csv").read_text().startswith("frame,track_id,joint,x,y,score")  # converted
    proc = run(
        "denoise",
        "--filter",
        "savgol",
        "--plot",
        png,
        "--plot-joints",
        "tail",
        src,
        "-o",
        tmp_path / "o.json",
    )
    assert proc.returncode == 1 and "--plot-joints: no joint 'tail'" in proc.stderr
    body25 = tmp_path / "b25.npy"
    np.save(body25, np.random.default_rng(0).uniform(0, 100, size=(12, 25, 2)))
    proc = run("denoise", "--filter", "kalman", body25, "-o", tmp_path / "o.npy")
    assert proc.returncode == 0 and "layout unnamed25" in proc.stdout  # filters need no joint names


def test_a_filter_run_imports_neither_torch_nor_pandas(tmp_path):
    # a smoother on COCO results needs numpy and scipy.ndimage only: torch, pandas and scipy.signal
    # would add a second and over 100 MB to every run (and to every file of a folder)
    src = tmp_path / "walk.json"
    src.write_text(json.dumps(coco_results([person(40, seed=1), person(40, x0=500, seed=2)])))
    heavy = ("torch", "pandas", "scipy.signal", "posedenoise.train")
    argv = ["denoise", "--filter", "gaussian", str(src), "-o", str(tmp_path / "out.json")]
    code = (
        "import sys; from posedenoise.cli import run; "
        f"code = run({argv!r}); "
        f"print(code, [m for m in {heavy!r} if m in sys.modules])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "0 []", proc.stdout + proc.stderr
    assert (tmp_path / "out.json").exists()
