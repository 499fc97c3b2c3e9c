import csv
import hashlib
import io
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
import torch

from posedenoise import evaluate
from posedenoise.checkpoint import save_checkpoint
from posedenoise.errors import InputError, PoseDenoiseError
from posedenoise.evaluate import RESULT_VERSION
from posedenoise.layout import GROUPS, JOINTS
from posedenoise.models import create_model
from posedenoise.prepare import prepare_dataset
from posedenoise.report import collect_results, draw_figure, format_number, latex_escape, render_tables
from posedenoise.sources import Track

# The chapter's Table 1 (k = 1), percentages per model: PCK@0.05, @0.1, @0.2, each over 1.1, 1.2, 1.3.
CHAPTER_TABLE1 = {
    "identity": ["6.95"] * 3 + ["25.7"] * 3 + ["67.4"] * 3,
    "conv3d": ["1.84", "20.5", "0.67", "30.6", "58.5", "23.8", "96.6", "98.0", "96.3"],
    "deciwatch": ["51.4", "51.4", "44.5", "64.6", "64.6", "51.5", "80.2", "80.2", "64.2"],
    "convlstm-s": ["27.8", "31.1", "33.8", "68.4", "71.0", "72.5", "95.7", "95.8", "96.7"],
    "convlstm-c": ["29.5", "31.7", "31.8", "69.5", "71.3", "71.8", "96.1", "96.1", "96.9"],
}
# where the chapter prints bold: (row, column index 0-8)
CHAPTER_BOLD = {
    ("deciwatch", 0), ("deciwatch", 1), ("deciwatch", 2),
    ("convlstm-c", 3), ("convlstm-c", 4), ("convlstm-s", 5),
    ("conv3d", 6), ("conv3d", 7), ("convlstm-c", 8),
}  # fmt: skip
LABELS = {
    "identity": "Identity function",
    "conv3d": "3DConv",
    "deciwatch": "DeciWatch",
    "convlstm-s": "bi-ConvLSTM Model S",
    "convlstm-c": "bi-ConvLSTM Model C",
}
MODELS = ["conv3d", "deciwatch", "convlstm-s", "convlstm-c"]
ALPHAS = ["0.05", "0.1", "0.2"]


class FakeData:
    """Stands in for a PreparedDataset: the cache only asks for the seed and the fingerprint."""

    seed = 0

    def fingerprint(self):
        return "fixture-data"


def fake_eval(model, k, y, pck, groups, checkpoint_sha=None, params=None, split="test"):
    return {
        "model": model, "shift": k, "experiment": y, "split": split, "windows": 10, "joints_counted": 100,
        "pck": pck,
        "per_group": {a: dict(groups) for a in ALPHAS},
        "per_joint": {a: dict.fromkeys(JOINTS) for a in ALPHAS},
        "mean_threshold_px": {"0.05": 1.11 * k, "0.1": 2.23 * k, "0.2": 4.46 * k},
        "seed": 0, "limit": None, "params": params, "source": "fixture", "epoch": 3, "trained_on_data": None,
        "fingerprints": {"checkpoint": checkpoint_sha, "data": "fixture-data"},
        "version": RESULT_VERSION,
    }  # fmt: skip


def write_run(runs, model, name, pck, groups, cached=True):
    k, y = map(int, name.split("."))
    run = runs / model / name
    run.mkdir(parents=True)
    content = f"weights of {model} {name}".encode()
    (run / "best.pt").write_bytes(content)
    if cached:
        sha = hashlib.sha256(content).hexdigest()
        (run / "eval-test.json").write_text(json.dumps(fake_eval(model, k, y, pck, groups, sha)))


def write_baseline(runs, name, exp, pck, params=None, split="test"):
    k, y = map(int, exp.split("."))
    path = runs / "baselines" / name / exp / f"eval-{split}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    groups = dict.fromkeys(GROUPS, pck["0.2"])
    path.write_text(json.dumps(fake_eval(name, k, y, pck, groups, None, params, split)))


def group_values(model_index, y, k):
    """Distinct per-group PCK@0.2 fractions for Tables 3-4."""
    return {g: 0.5 + 0.05 * model_index + 0.01 * y + 0.002 * i - 0.1 * (k - 1) for i, g in enumerate(GROUPS)}


@pytest.fixture
def runs(tmp_path):
    runs = tmp_path / "runs"
    for k in (1, 2):
        for y in (1, 2, 3):
            name = f"{k}.{y}"
            col = {a: CHAPTER_TABLE1["identity"][3 * i + y - 1] for i, a in enumerate(ALPHAS)}
            write_baseline(runs, "identity", name, {a: float(v) / 100 for a, v in col.items()})
            for m, model in enumerate(MODELS):
                if (model, name) in {("deciwatch", "2.3"), ("convlstm-c", "2.1")}:
                    continue  # never trained: dashes
                if k == 1:
                    values = CHAPTER_TABLE1[model]
                    pck = {a: float(values[3 * i + y - 1]) / 100 for i, a in enumerate(ALPHAS)}
                else:
                    pck = {"0.05": 0.1, "0.1": 0.3, "0.2": 0.8 + 0.01 * m}
                write_run(runs, model, name, pck, group_values(m, y, k))
    write_baseline(runs, "gaussian", "1.1", {"0.05": 0.9, "0.1": 0.95, "0.2": 0.99}, params={"sigma": 1.0})
    return runs


def markdown_rows(text, table_number):
    """{row label: [cell, ...]} of one Markdown table."""
    blocks = text.split(f"Table {table_number}:")[0].split("\n\n")
    block = [b for b in blocks if b.lstrip().startswith("|")][-1]
    rows = {}
    for line in block.strip().splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def test_table1_reproduces_chapter_numbers_and_bold(runs):
    data = collect_results(runs, FakeData(), evaluate_missing=False)
    rows = markdown_rows(render_tables(data, "markdown"), 1)
    for model, expected in CHAPTER_TABLE1.items():
        cells = rows[LABELS[model]]
        assert [c.strip("*") for c in cells] == expected
        bold = {(model, i) for i, c in enumerate(cells) if c.startswith("**")}
        assert bold == {b for b in CHAPTER_BOLD if b[0] == model}
    assert rows["Mean threshold distance (px)\\*"][::3] == ["1.11", "2.23", "4.46"]
    # the smoother row is set apart and never bold, although it beats every model here
    smoother = rows["Gaussian filter †"]
    assert smoother[0] == "90.0" and not any(c.startswith("**") for c in smoother)
    assert smoother[1] == "-"


def test_missing_runs_are_dashes_and_listed(runs, tmp_path):
    (runs / "convlstm-s" / "2.2" / "eval-test.json").unlink()  # trained but not evaluated
    data = collect_results(runs, FakeData(), evaluate_missing=False)
    assert set(data.missing) == {("deciwatch", "2.3"), ("convlstm-c", "2.1")}
    assert data.not_evaluated == [("convlstm-s", "2.2")]
    for fmt in ("text", "markdown"):
        text = " ".join(render_tables(data, fmt).split())  # the text format wraps long notes
        assert "missing runs: DeciWatch 2.3, bi-ConvLSTM Model C 2.1" in text
        assert "not evaluated: bi-ConvLSTM Model S 2.2" in text
    rows = markdown_rows(render_tables(data, "markdown"), 2)
    assert rows["DeciWatch"][2::3] == ["-", "-", "-"]  # experiment 2.3 under each threshold
    assert rows["bi-ConvLSTM Model C"][0::3] == ["-", "-", "-"]
    assert rows["bi-ConvLSTM Model S"][1::3] == ["-", "-", "-"]
    # bold goes to the best existing run: Model S (0.82) in 2.1 since Model C is missing
    assert rows["bi-ConvLSTM Model S"][6] == "**82.0**" and rows["bi-ConvLSTM Model C"][7] == "**83.0**"
    assert "Gaussian filter †" not in rows  # no smoother result for k = 2
    latex = render_tables(data, "latex")
    assert "DeciWatch 2.3" in latex and " -- " in latex


def test_joint_tables_total_row_and_column(runs):
    data = collect_results(runs, FakeData(), evaluate_missing=False)
    table = list(csv.DictReader(io.StringIO(render_tables(data, "csv"))))
    t4 = [r for r in table if r["table"] == "4"]
    # Total column: the mean over the row's available runs (10 of 12 exist for k = 2)
    expected = []
    for m, model in enumerate(MODELS):
        for y in (1, 2, 3):
            if (model, f"2.{y}") not in {("deciwatch", "2.3"), ("convlstm-c", "2.1")}:
                expected.append(group_values(m, y, 2)["elbow"])
    elbow_total = [r for r in t4 if r["row"] == "Elbow" and r["column"] == "Total"]
    assert len(elbow_total) == 1
    assert float(elbow_total[0]["value"]) == pytest.approx(100 * np.mean(expected))
    # Total row: the overall PCK@0.2 of each run, no Total column cell
    total_row = [r for r in t4 if r["row"] == "Total"]
    assert len(total_row) == 12 and all(r["column"] != "Total" for r in total_row)
    dw = {r["experiment"]: r["value"] for r in total_row if r["column"] == "DeciWatch"}
    assert float(dw["2.1"]) == pytest.approx(81.0) and dw["2.3"] == ""
    # the text table shows the same total, formatted
    text = render_tables(data, "text")
    block = text.split("Table 4:")[1]
    elbow_line = next(line for line in block.splitlines() if line.startswith("Elbow"))
    assert elbow_line.split()[-1] == format_number(100 * np.mean(expected))
    assert elbow_line.split().count("-") == 2


def test_latex_is_well_formed(runs, tmp_path):
    data = collect_results(runs, FakeData(), evaluate_missing=False)
    latex = render_tables(data, "latex")
    assert latex.count("{") == latex.count("}")
    assert latex.count(r"\begin{") == latex.count(r"\end{")
    assert latex.count(r"\begin{table}") == 4 and latex.count(r"\toprule") == 4
    assert r"\textbf{51.4}" in latex and r"Gaussian filter$^{\dagger}$" in latex
    # every row of every tabular has as many cells as its column spec
    for spec, body in re.findall(r"\\begin\{tabular\}\{(\w+)\}(.*?)\\end\{tabular\}", latex, re.S):
        for line in body.strip().splitlines():
            if not line.endswith(r"\\"):
                continue  # rules
            spans = [int(n) for n in re.findall(r"\\multicolumn\{(\d+)\}", line)]
            cells = line[:-2].split(" & ")
            assert len(cells) - len(spans) + sum(spans) == len(spec), line
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed")
    (tmp_path / "tables.tex").write_text(latex)
    proc = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "tables.tex"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert (tmp_path / "tables.pdf").stat().st_size > 0


def test_latex_escapes_special_characters():
    assert latex_escape("a_b & 50% #1 {x}") == r"a\_b \& 50\% \#1 \{x\}"


def test_number_format_matches_chapter():
    assert [format_number(v) for v in (96.6123, 6.951, 0.6749, 0.8, 9.634, 25.66, 100.0)] == [
        "96.6", "6.95", "0.67", "0.80", "9.63", "25.7", "100",
    ]  # fmt: skip


def test_stale_cache_is_not_used(runs):
    (runs / "conv3d" / "1.1" / "best.pt").write_bytes(b"retrained weights")
    data = collect_results(runs, FakeData(), evaluate_missing=False)
    assert ("conv3d", "1.1") in data.not_evaluated and data.get("conv3d", "1.1") is None

    class OtherData(FakeData):
        def fingerprint(self):
            return "other-data"

    data = collect_results(runs, OtherData(), evaluate_missing=False)
    assert not data.results  # every cached evaluation belongs to other data


def test_unknown_format(runs):
    data = collect_results(runs, FakeData(), evaluate_missing=False)
    with pytest.raises(PoseDenoiseError, match="format"):
        render_tables(data, "html")


def prepare(path, n=6, t=40):
    rng = np.random.default_rng(0)
    tracks = []
    for i in range(n):
        coords = rng.uniform(100, 300, (1, 25, 2)) + np.cumsum(rng.normal(0, 1.5, (t, 25, 2)), axis=0)
        present = np.ones((t, 25), dtype=bool)
        present[:, 9:15] = False
        tracks.append(Track(f"v{i}", "custom", 30.0, coords, present, np.arange(t)))
    prepare_dataset(tracks, path, seed=0)
    return path


def save_model(path, name, shift, experiment, **options):
    torch.manual_seed(0)
    meta = {"model": name, "model_options": options, "shift": shift, "experiment": experiment, "seed": 0,
            "epoch": 1, "data_fingerprint": None, "train_config": {}}  # fmt: skip
    save_checkpoint(path, create_model(name, **options), meta)


def test_collect_evaluates_what_is_not_cached(tmp_path, monkeypatch):
    """End to end on a tiny prepared dataset: real checkpoints evaluated once, then read from the cache."""
    data = prepare(tmp_path / "prepared")
    runs = tmp_path / "runs"
    save_model(runs / "conv3d" / "1.1" / "best.pt", "conv3d", 1, 1, kernel_size=3)
    calls = []
    real = evaluate.evaluate_checkpoint
    monkeypatch.setattr(evaluate, "evaluate_checkpoint", lambda *a, **kw: calls.append(a) or real(*a, **kw))
    progress = []
    first = collect_results(runs, data, progress=lambda what, done, total: progress.append(what))
    assert len(calls) == 1 and "conv3d 1.1" in progress and "identity 2.3" in progress
    baselines = ("identity", "oneeuro", "savgol", "gaussian")  # the smoothers are evaluated by default
    assert {key for key in first.results} == {("conv3d", "1.1")} | {
        (b, f"{k}.{y}") for b in baselines for k in (1, 2) for y in (1, 2, 3)
    }
    assert first.smoothers == ["oneeuro", "savgol", "gaussian"]
    assert len(first.missing) == 23
    second = collect_results(runs, data)
    assert len(calls) == 1 and second.results == first.results
    text = render_tables(second, "text")
    assert "Table 4:" in text and "missing runs:" in text and "Gaussian filter" in text
    without = collect_results(tmp_path / "other-runs", data, smoothers=False)
    assert without.smoothers == [] and ("savgol", "1.1") not in without.results

    # a checkpoint of another experiment in a run folder is refused, naming the file
    save_model(runs / "deciwatch" / "1.2" / "best.pt", "conv3d", 1, 1, kernel_size=3)
    with pytest.raises(InputError, match="deciwatch 1.2"):
        collect_results(runs, data)


def write_history(run, epochs, reduce_at):
    run.mkdir(parents=True, exist_ok=True)
    lines = ["epoch,train_loss,val_loss,val_pck,lr,lr_reduced,seconds"]
    for e in range(1, epochs + 1):
        lines.append(f"{e},{1.0 / e},{1.2 / e},{0.5 + 0.4 * e / epochs},0.001,{int(e in reduce_at)},1.5")
    (run / "history.csv").write_text("\n".join(lines) + "\n")
    (run / "config.json").write_text(json.dumps({"model": run.parent.name, "train_config": {"limit": None}}))


def test_figure(tmp_path):
    runs = tmp_path / "runs"
    write_history(runs / "conv3d" / "1.1", 8, {5})
    write_history(runs / "convlstm-c" / "2.3", 3, set())
    write_baseline(runs, "identity", "1.1", {"0.05": 0.07, "0.1": 0.26, "0.2": 0.67}, split="val")
    out = draw_figure(runs, tmp_path / "fig" / "figure1.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    draw_figure(runs, tmp_path / "figure1.pdf")
    assert (tmp_path / "figure1.pdf").read_bytes()[:4] == b"%PDF"
    with pytest.raises(PoseDenoiseError, match="image format"):
        draw_figure(runs, tmp_path / "figure1.xyz")
    with pytest.raises(PoseDenoiseError, match="no training histories"):
        draw_figure(tmp_path / "empty", tmp_path / "x.png")
    (runs / "conv3d" / "1.1" / "history.csv").write_text("epoch,loss\n1,2\n")
    with pytest.raises(InputError, match="history.csv"):
        draw_figure(runs, tmp_path / "y.png")
