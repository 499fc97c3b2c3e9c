"""The chapter's Tables 1-4 and Figure 1, rebuilt from a runs directory (chapter 1.3-1.4).

`collect_results` gathers one evaluation per (row, experiment): every run `runs/<model>/<k>.<y>/best.pt`
(evaluated now when its cached evaluation is missing or stale) and the identity function of every
experiment. Classic smoothers appear as extra rows when their evaluations exist under
`runs/baselines/<name>/`; they are not part of the chapter's comparison, so they are set apart below a
rule, marked with a dagger, and never bold: bold marks the best of the chapter's rows (identity function
and the four architectures), as in the chapter.

Runs trained with the realistic detector-noise profile (`runs/<model>/<k>.<y>-realistic/`, see
`noise.RealisticNoise`) are not part of Tables 1-4: when any exist, an extra Table 5 shows them with the
identity function under the same noise: PCK@0.2, the share of left/right swaps repaired and the error on
joints missed in the input.

`render_tables` prints the tables as text (tabulate), Markdown, CSV (one tidy row per cell, full
precision) or LaTeX (a booktabs document that compiles as is). Percentages have 3 significant digits
with at most 2 decimals, like the chapter (67.4, 6.95, 0.67). A run that does not exist is a dash, and a
note lists the missing runs. `draw_figure` draws Figure 1 from the runs' `history.csv`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from posedenoise.errors import InputError, PoseDenoiseError
from posedenoise.evaluate import SMOOTHERS, cached_baseline, cached_evaluation, load_dataset, read_evaluation
from posedenoise.fileio import atomic_path
from posedenoise.layout import GROUPS
from posedenoise.models import display_name, study_models
from posedenoise.noise import ALL_EXPERIMENTS, CHAPTER, Experiment, make_noise
from posedenoise.runs import Run

# The chapter's rows, in table order: CLI name -> label (from the model registry).
MODEL_LABELS: dict[str, str] = {name: display_name(name) for name in study_models()}
BASELINE_LABELS: dict[str, str] = {
    "identity": "Identity function",
    "oneeuro": "One Euro filter",
    "savgol": "Savitzky-Golay filter",
    "gaussian": "Gaussian filter",
}
GROUP_LABELS: dict[str, str] = {name: name.capitalize() for name in GROUPS}  # nose -> Nose
ALPHAS: tuple[str, ...] = ("0.05", "0.1", "0.2")
FORMATS = ("text", "markdown", "csv", "latex")

DASH = "-"  # a run that does not exist (or was not evaluated)
NOT_AVAILABLE = "n/a"  # nothing counted: the data has no such joint
BLANK = ""  # a cell the table leaves empty (Total row x Total column, as in the chapter)
TEXT_MARKS = {"*": "*", "dagger": "†"}  # footnote marks
TEXT_WIDTH = 100  # captions and notes of the text format are wrapped to this width
LATEX_MARKS = {"*": r"$^{*}$", "dagger": r"$^{\dagger}$"}

Progress = Callable[[str, int, int], None]  # (what, done, total)


# ----------------------------------------------------------------------------- results


@dataclass
class ReportData:
    """Every evaluation the tables need, and what could not be had."""

    split: str
    results: dict[tuple[str, str], dict] = field(default_factory=dict)  # (row key, "k.y") -> evaluation
    missing: list[tuple[str, str]] = field(default_factory=list)  # (model, "k.y") runs without best.pt
    not_evaluated: list[tuple[str, str]] = field(default_factory=list)  # runs with no valid cached result
    smoothers: list[str] = field(default_factory=list)  # smoothers with at least one evaluation
    # runs trained and tested with the realistic noise profile, and the identity function under it
    realistic: dict[tuple[str, str], dict] = field(default_factory=dict)  # (row key, "k.y") -> evaluation

    def get(self, row: str, experiment: str) -> dict | None:
        return self.results.get((row, experiment))


def collect_results(
    runs_dir: str | Path,
    data_dir,
    split: str = "test",
    evaluate_missing: bool = True,
    device: str = "cpu",
    batch_size: int = 64,
    limit: int | None = None,
    progress: Progress | None = None,
    smoothers: bool = True,
) -> ReportData:
    """Evaluate (or read the valid cache of) every existing run and the identity function per experiment.

    With `smoothers`, the classic smoothers (default parameters, or those of an existing cached evaluation)
    are evaluated on the same test windows and shown as extra rows; without, only cached ones are shown.

    With `evaluate_missing=False` nothing is evaluated: a run or baseline without a valid cached
    evaluation shows as a dash (listed in `not_evaluated`). progress: `(what, done, total)` during each
    evaluation, `what` like "conv3d 1.2".
    """
    from posedenoise.pipeline import eval_inputs

    runs_dir = Path(runs_dir)
    ds = load_dataset(data_dir)
    data = ReportData(split=split)

    for exp in ALL_EXPERIMENTS:
        name = exp.name
        shared: dict[str, object] = {}

        def inputs(exp: Experiment = exp, shared: dict = shared):
            # one set of noisy windows per experiment, made only if something needs evaluating
            if "inputs" not in shared:
                shared["inputs"] = eval_inputs(ds, exp, split, limit=limit)
            return shared["inputs"]

        def reporter(what: str):
            return None if progress is None else (lambda done, total: progress(what, done, total))

        identity = cached_baseline(
            "identity", exp.shift, exp.number, runs_dir, ds, split, limit=limit,
            progress=reporter(f"identity {name}"), inputs=inputs, evaluate_if_stale=evaluate_missing,
        )  # fmt: skip
        if identity is not None:
            data.results[("identity", name)] = identity

        for model in MODEL_LABELS:
            run = Run.trained(runs_dir, model, exp, CHAPTER)
            if not run.best.is_file():
                data.missing.append((model, name))
                continue
            result = cached_evaluation(
                run.dir, ds, split, device=device, batch_size=batch_size, limit=limit,
                progress=reporter(f"{model} {name}"), inputs=inputs, evaluate_if_stale=evaluate_missing,
            )  # fmt: skip
            if result is None:
                data.not_evaluated.append((model, name))
                continue
            _check_run(run.dir, result, model, exp)
            data.results[(model, name)] = result

        for smoother in SMOOTHERS:
            saved = read_evaluation(Run.baseline(runs_dir, smoother, exp, CHAPTER).evaluation(split))
            if saved is None and not smoothers:
                continue
            # a cached smoother is re-evaluated with the parameters it was saved with when the data changed
            result = cached_baseline(
                smoother, exp.shift, exp.number, runs_dir, ds, split, limit=limit,
                params=saved.get("params") if saved else None, progress=reporter(f"{smoother} {name}"),
                inputs=inputs, evaluate_if_stale=evaluate_missing,
            )  # fmt: skip
            if result is not None:
                data.results[(smoother, name)] = result
                if smoother not in data.smoothers:
                    data.smoothers.append(smoother)
    _collect_realistic(data, runs_dir, ds, evaluate_missing, device, batch_size, limit, progress)
    data.smoothers.sort(key=SMOOTHERS.index)
    order = list(MODEL_LABELS)
    data.missing.sort(key=lambda run: (order.index(run[0]), run[1]))
    data.not_evaluated.sort(key=lambda run: (order.index(run[0]), run[1]))
    return data


def _collect_realistic(
    data: ReportData, runs_dir: Path, ds, evaluate_missing: bool, device: str, batch_size: int,
    limit: int | None, progress: Progress | None,
) -> None:  # fmt: skip
    """Evaluations of the runs trained with the realistic noise profile (`<k>.<y>-realistic/`) and of the
    identity function under that noise (with the first run's noise options) for their experiments."""
    realistic = make_noise("realistic")
    for exp in ALL_EXPERIMENTS:
        name = exp.name
        options = None
        for model in MODEL_LABELS:
            run = Run.trained(runs_dir, model, exp, realistic)
            if not run.best.is_file():
                continue
            what = f"{model} {run.dir.name}"
            result = cached_evaluation(
                run.dir, ds, data.split, device=device, batch_size=batch_size, limit=limit,
                progress=None if progress is None else (lambda d, t, w=what: progress(w, d, t)),
                evaluate_if_stale=evaluate_missing,
            )  # fmt: skip
            if result is None:
                data.not_evaluated.append((model, run.dir.name))
                continue
            _check_run(run.dir, result, model, exp)
            if result.get("noise") != realistic.name:
                raise InputError(run.best, "was not trained with the realistic noise profile")
            data.realistic[(model, name)] = result
            if options is None:
                options = result.get("noise_options") or {}
        if options is None:
            continue
        what = f"identity {name}{realistic.run_suffix}"
        identity = cached_baseline(
            "identity", exp.shift, exp.number, runs_dir, ds, data.split, limit=limit,
            progress=None if progress is None else (lambda d, t, w=what: progress(w, d, t)),
            evaluate_if_stale=evaluate_missing, noise=make_noise("realistic", options),
        )  # fmt: skip
        if identity is not None:
            data.realistic[("identity", name)] = identity


def _check_run(run_dir: Path, result: dict, model: str, exp: Experiment) -> None:
    """A run directory must hold the run its name says (a copied checkpoint would mislabel a table cell)."""
    held = (result.get("model"), result.get("shift"), result.get("experiment"))
    if held != (model, exp.shift, exp.number):
        raise InputError(
            run_dir / "best.pt",
            f"holds {held[0]} {held[1]}.{held[2]}, not {model} {exp.name} as its folder says",
        )


# ----------------------------------------------------------------------------- table model


@dataclass
class Row:
    label: str
    cells: list  # float (a value to format) or one of DASH, NOT_AVAILABLE, BLANK
    bold: list[bool]
    mark: str = ""  # "dagger" for an extra (smoother) row
    rule_before: bool = False  # a horizontal rule above this row


@dataclass
class Table:
    number: int
    key: str  # LaTeX label
    caption: str
    corner: tuple[str, str]  # first column of the two header rows
    groups: list[tuple[str, int]]  # header row 1: (label, columns spanned)
    columns: list[str]  # header row 2: one label per value column
    rows: list[Row]
    notes: list[tuple[str, str]] = field(default_factory=list)  # footnotes: (mark "*" or "dagger", text)
    in_px: set[int] = field(default_factory=set)  # rows whose values are pixels; the others are fractions
    px_columns: set[int] = field(default_factory=set)  # value columns (0-based) in pixels (Table 5)

    def is_px(self, r: int, c: int) -> bool:
        return r in self.in_px or c in self.px_columns


def _value(result: dict | None, *path: str):
    """A fraction from an evaluation, DASH when the evaluation is missing, NOT_AVAILABLE when null."""
    if result is None:
        return DASH
    node = result
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return NOT_AVAILABLE if node is None else float(node)


def _split_word(split: str) -> str:
    return {"test": "Testing", "val": "Validation", "train": "Training"}[split]


def _bold_max(rows: Sequence[Row], ncols: int) -> None:
    """Bold the best value of each column among `rows` (ties all bold)."""
    for c in range(ncols):
        values = [r.cells[c] for r in rows if isinstance(r.cells[c], float) and not math.isnan(r.cells[c])]
        if not values:
            continue
        best = max(values)
        for r in rows:
            if isinstance(r.cells[c], float) and r.cells[c] == best:
                r.bold[c] = True


def accuracy_table(data: ReportData, shift: int, number: int) -> Table:
    """Table 1 (k = 1) or 2 (k = 2): PCK at three thresholds x three experiments."""
    exps = [f"{shift}.{y}" for y in (1, 2, 3)]
    ncols = len(ALPHAS) * len(exps)

    threshold = []  # mean alpha x torso over counted joints: the same for every row of an experiment
    for alpha in ALPHAS:
        for e in exps:
            source = data.get("identity", e) or next(
                (data.get(m, e) for m in MODEL_LABELS if data.get(m, e) is not None), None
            )
            threshold.append(_value(source, "mean_threshold_px", alpha))
    rows = [Row("Mean threshold distance (px)*", threshold, [False] * ncols)]

    ranked = []
    for key, label in [("identity", BASELINE_LABELS["identity"]), *MODEL_LABELS.items()]:
        cells = [_value(data.get(key, e), "pck", alpha) for alpha in ALPHAS for e in exps]
        ranked.append(Row(label, cells, [False] * ncols))
    _bold_max(ranked, ncols)
    rows += ranked

    smoothers = [m for m in data.smoothers if any(data.get(m, e) is not None for e in exps)]
    for i, smoother in enumerate(smoothers):
        cells = [_value(data.get(smoother, e), "pck", alpha) for alpha in ALPHAS for e in exps]
        rows.append(Row(BASELINE_LABELS[smoother], cells, [False] * ncols, mark="dagger", rule_before=i == 0))

    word = _split_word(data.split)
    notes = [
        (
            "*",
            "The mean maximum distance between the predicted keypoint and corresponding groundtruth keypoint "
            "for the prediction to count as being correct, measured in the heatmap coordinate system.",
        )
    ]
    if smoothers:
        notes.append(
            (
                "dagger",
                "Classic smoother applied along time to the simulated detector output of each window; "
                "not part of the chapter's comparison and not considered for bold.",
            )
        )
    return Table(
        number=number,
        key=f"pck-k{shift}",
        caption=f"{word} accuracies of the various developed models for shifting-scalar k = {shift}. "
        "All the accuracies are in percentage; the best of each column is bold.",
        corner=("Accuracy metric", "Experiment"),
        groups=[(f"PCK@{alpha}", len(exps)) for alpha in ALPHAS],
        columns=exps * len(ALPHAS),
        rows=rows,
        notes=notes,
        in_px={0},
    )


def joint_table(data: ReportData, shift: int, number: int) -> Table:
    """Table 3 (k = 1) or 4 (k = 2): PCK@0.2 per joint group, with a Total row and a Total column."""
    exps = [f"{shift}.{y}" for y in (1, 2, 3)]
    cols = [(m, e) for m in MODEL_LABELS for e in exps]
    rows = []
    for group, label in GROUP_LABELS.items():
        cells = [_value(data.get(m, e), "per_group", "0.2", group) for m, e in cols]
        rows.append(Row(label, cells + [_mean(cells)], [False] * (len(cols) + 1)))
    total = [_value(data.get(m, e), "pck", "0.2") for m, e in cols]
    rows.append(Row("Total", total + [BLANK], [False] * (len(cols) + 1), rule_before=True))
    word = _split_word(data.split).lower()
    return Table(
        number=number,
        key=f"joints-k{shift}",
        caption=f"Keypoint-specific {word} PCK@0.2-accuracies of the various models for shifting-scalar "
        f"k = {shift}. All the accuracies are in percentage; Total column: mean over the row's runs.",
        corner=("", "Experiment"),
        groups=[(label, len(exps)) for label in MODEL_LABELS.values()] + [("Total", 1)],
        columns=[e for _, e in cols] + [""],
        rows=rows,
    )


def _mean(cells: list):
    values = [c for c in cells if isinstance(c, float) and not math.isnan(c)]
    return float(np.mean(values)) if values else DASH


def realistic_table(data: ReportData, number: int = 5) -> Table:
    """Table 5: runs trained and tested with the realistic noise profile, for the experiments that have
    any: PCK@0.2, swaps repaired and the error on joints missed in the input (lower is better)."""
    exps = [e.name for e in ALL_EXPERIMENTS if any(k[1] == e.name for k in data.realistic)]
    metrics = [("pck", "0.2"), ("swap_repair",), ("gap_error_px",)]
    ncols = len(metrics) * len(exps)
    rows = []
    for key, label in [("identity", BASELINE_LABELS["identity"]), *MODEL_LABELS.items()]:
        if key != "identity" and not any((key, e) in data.realistic for e in exps):
            continue
        cells = [_value(data.realistic.get((key, e)), *path) for path in metrics for e in exps]
        rows.append(Row(label, cells, [False] * ncols))
    for c in range(ncols):  # best of each column: highest accuracy and repair share, lowest gap error
        values = [r.cells[c] for r in rows if isinstance(r.cells[c], float) and not math.isnan(r.cells[c])]
        if values:
            best = min(values) if c >= 2 * len(exps) else max(values)
            for r in rows:
                r.bold[c] = isinstance(r.cells[c], float) and r.cells[c] == best
    options = sorted(
        {json.dumps(r.get("noise_options") or {}, sort_keys=True) for r in data.realistic.values()}
    )
    notes = [
        (
            "*",
            "Swaps repaired: the share of left/right-swapped joint-frames (detected at the partner's "
            "position) whose prediction lies closer to the true joint than to the partner's. Gap error: "
            "the mean distance between the prediction and the true joint, in heatmap pixels, over joints "
            "missed in the input (missed joints and frames: all-zero input heatmaps).",
        ),
    ]
    changed = (
        "" if options == ["{}"] else " Noise options changed from the defaults: " + "; ".join(options) + "."
    )
    word = _split_word(data.split)
    return Table(
        number=number,
        key="realistic",
        caption=f"{word} results with the realistic detector-noise profile (left/right swaps, missed "
        "joints and frames, outliers and confidence-dependent shifts on top of the chapter's shifts), "
        "models trained with it. PCK and swaps repaired in percentage, gap error in pixels; the best of "
        f"each column is bold.{changed}",
        corner=("Metric", "Experiment"),
        groups=[("PCK@0.2", len(exps)), ("Swaps repaired*", len(exps)), ("Gap error (px)*", len(exps))],
        columns=exps * len(metrics),
        rows=rows,
        notes=notes,
        px_columns=set(range(2 * len(exps), ncols)),
    )


def build_tables(data: ReportData) -> list[Table]:
    tables = [
        accuracy_table(data, 1, 1),
        accuracy_table(data, 2, 2),
        joint_table(data, 1, 3),
        joint_table(data, 2, 4),
    ]
    if data.realistic:  # only when runs with the realistic noise profile exist
        tables.append(realistic_table(data, 5))
    return tables


# ----------------------------------------------------------------------------- rendering


def format_number(x: float) -> str:
    """3 significant digits, at most 2 decimals, as the chapter prints: 96.6, 6.95, 0.67, 100."""
    if abs(x) >= 99.95:
        return f"{x:.0f}"
    if abs(x) >= 9.995:
        return f"{x:.1f}"
    return f"{x:.2f}"


def _cell_text(table: Table, r: int, c: int, bold: Callable[[str], str], dash: str = DASH) -> str:
    row = table.rows[r]
    cell = row.cells[c]
    if isinstance(cell, str):
        return dash if cell == DASH else cell
    if math.isnan(cell):
        return NOT_AVAILABLE
    value = cell if table.is_px(r, c) else 100.0 * cell  # fractions are shown as percentages
    text = format_number(value)
    return bold(text) if row.bold[c] else text


def _row_label(row: Row, dagger: str) -> str:
    return row.label + (dagger if row.mark == "dagger" else "")


def missing_note(data: ReportData) -> str | None:
    """One line naming the runs shown as dashes, or None when nothing is missing."""
    parts = []
    if data.missing:
        parts.append("missing runs: " + ", ".join(f"{MODEL_LABELS[m]} {e}" for m, e in data.missing))
    if data.not_evaluated:
        parts.append("not evaluated: " + ", ".join(f"{MODEL_LABELS[m]} {e}" for m, e in data.not_evaluated))
    if not any(("identity", e.name) in data.results for e in ALL_EXPERIMENTS):
        parts.append("identity function not evaluated")
    return "Shown as dashes: " + "; ".join(parts) + "." if parts else None


def _render_text(tables: list[Table], data: ReportData) -> str:
    """Fixed-width tables (booktabs-like rules, group labels centred over the columns they span)."""
    gap = "  "
    out = []
    for t in tables:
        header = [t.corner[1], *t.columns]
        body: list[list[str] | None] = []  # None: a rule
        for r, row in enumerate(t.rows):
            if row.rule_before:
                body.append(None)
            cells = [_cell_text(t, r, c, lambda s: f"**{s}**") for c in range(len(row.cells))]
            body.append([_row_label(row, " " + TEXT_MARKS["dagger"]), *cells])
        rows = [r for r in body if r is not None]
        widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]
        widths[0] = max(widths[0], len(t.corner[0]))
        col = 1
        for label, span in t.groups:  # widen a group's columns until its label fits over them
            for j in range(max(len(label) - (sum(widths[col : col + span]) + len(gap) * (span - 1)), 0)):
                widths[col + j % span] += 1
            col += span

        def line(cells: list[str], widths=widths) -> str:
            return gap.join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )

        rule = gap.join("-" * w for w in widths)
        groups, col = [t.corner[0].ljust(widths[0])], 1
        for label, span in t.groups:
            groups.append(label.center(sum(widths[col : col + span]) + len(gap) * (span - 1)))
            col += span
        lines = [rule, gap.join(groups).rstrip(), line(header), rule]
        lines += [rule if r is None else line(r) for r in body]
        lines.append(rule)
        caption = textwrap.fill(f"Table {t.number}: {t.caption}", TEXT_WIDTH)
        notes = "".join(
            textwrap.fill(f"{TEXT_MARKS[mark]}: {text}", TEXT_WIDTH) + "\n" for mark, text in t.notes
        )
        out.append(f"{caption}\n\n" + "\n".join(x.rstrip() for x in lines) + f"\n{notes}")
    note = missing_note(data)
    return "\n".join(out) + (f"\n{textwrap.fill(note, TEXT_WIDTH)}\n" if note else "")


def _md_escape(text: str) -> str:
    return text.replace("*", r"\*").replace("|", r"\|")


def _render_markdown(tables: list[Table], data: ReportData) -> str:
    out = []
    for t in tables:
        header = [t.corner[0]]
        for label, span in t.groups:
            header += [label] + [""] * (span - 1)
        lines = [
            "| " + " | ".join(_md_escape(h) for h in header) + " |",
            "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
            "| " + " | ".join([t.corner[1], *t.columns]) + " |",
        ]
        for r, row in enumerate(t.rows):
            cells = [_cell_text(t, r, c, lambda s: f"**{s}**") for c in range(len(row.cells))]
            lines.append(
                "| " + " | ".join([_md_escape(_row_label(row, " " + TEXT_MARKS["dagger"])), *cells]) + " |"
            )
        notes = "".join(f" {_md_escape(TEXT_MARKS[mark])}: {_md_escape(text)}" for mark, text in t.notes)
        out.append("\n".join(lines) + f"\n\nTable {t.number}: {_md_escape(t.caption)}{notes}\n")
    note = missing_note(data)
    return "\n".join(out) + (f"\n{note}\n" if note else "")


def _render_csv(tables: list[Table], data: ReportData) -> str:
    """Tidy CSV: one row per cell; values in percent (pixels for the threshold row), full precision."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["table", "row", "column", "experiment", "value", "unit", "best"])
    for t in tables:
        group_of = [label for label, span in t.groups for _ in range(span)]
        for r, row in enumerate(t.rows):
            for c, cell in enumerate(row.cells):
                unit = "px" if t.is_px(r, c) else "percent"
                if cell == BLANK:
                    continue
                if isinstance(cell, float) and not math.isnan(cell):
                    value = repr(cell if t.is_px(r, c) else 100.0 * cell)
                else:
                    value = ""  # a missing run or nothing counted
                writer.writerow(
                    [
                        t.number,
                        row.label.rstrip("*"),
                        group_of[c],
                        t.columns[c],
                        value,
                        unit,
                        int(row.bold[c]),
                    ]
                )
    return buf.getvalue()


LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def latex_escape(text: str) -> str:
    return "".join(LATEX_SPECIALS.get(ch, ch) for ch in text)


def _latex_label(text: str) -> str:
    """Escape, then typeset the footnote marks: a trailing "*" as a superscript star."""
    if text.endswith("*"):
        return latex_escape(text[:-1]) + r"$^{*}$"
    return latex_escape(text)


def _render_latex(tables: list[Table], data: ReportData) -> str:
    lines = [
        r"\documentclass{article}",
        r"\usepackage{booktabs}",
        r"\usepackage{graphicx}",
        r"\begin{document}",
        "",
    ]
    for t in tables:
        ncols = len(t.columns)
        lines += [
            r"\begin{table}[htbp]",
            r"\centering",
            r"\resizebox{\textwidth}{!}{%",
            r"\begin{tabular}{l" + "c" * ncols + "}",
            r"\toprule",
        ]
        head, rules, start = [_latex_label(t.corner[0])], [], 2
        for label, span in t.groups:
            head.append(rf"\multicolumn{{{span}}}{{c}}{{{latex_escape(label)}}}")
            if span > 1:
                rules.append(rf"\cmidrule(lr){{{start}-{start + span - 1}}}")
            start += span
        lines.append(" & ".join(head) + r" \\")
        if rules:
            lines.append(" ".join(rules))
        lines.append(" & ".join([latex_escape(t.corner[1]), *(latex_escape(c) for c in t.columns)]) + r" \\")
        lines.append(r"\midrule")
        for r, row in enumerate(t.rows):
            if row.rule_before:
                lines.append(r"\midrule")
            # cells are numbers, dashes or "n/a": nothing to escape
            cells = [
                _cell_text(t, r, c, lambda s: rf"\textbf{{{s}}}", dash="--") for c in range(len(row.cells))
            ]
            label = _latex_label(row.label) + (LATEX_MARKS["dagger"] if row.mark == "dagger" else "")
            lines.append(" & ".join([label, *cells]) + r" \\")
        notes = " ".join(f"{LATEX_MARKS[mark]}: {latex_escape(text)}" for mark, text in t.notes)
        lines += [
            r"\bottomrule",
            r"\end{tabular}}",
            rf"\caption{{{latex_escape(t.caption)}{' ' + notes if notes else ''}}}",
            rf"\label{{tab:{t.key}}}",
            r"\end{table}",
            "",
        ]
    note = missing_note(data)
    if note:
        lines += [r"\noindent " + latex_escape(note.replace("dashes", "dashes (--)")), ""]
    lines.append(r"\end{document}")
    return "\n".join(lines) + "\n"


def render_tables(data: ReportData, fmt: str = "text") -> str:
    """Tables 1-4 as "text", "markdown", "csv" or "latex"."""
    renderers = {
        "text": _render_text,
        "markdown": _render_markdown,
        "csv": _render_csv,
        "latex": _render_latex,
    }
    if fmt not in renderers:
        raise PoseDenoiseError(f"unknown report format {fmt!r}; choose from {', '.join(FORMATS)}")
    return renderers[fmt](build_tables(data), data)


# ----------------------------------------------------------------------------- Figure 1


def read_history(path: str | Path):
    """A run's history.csv as a DataFrame (epoch, train_loss, val_loss, val_pck, lr, lr_reduced, seconds)."""
    import pandas as pd

    path = Path(path)
    try:
        history = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise InputError(path, f"unreadable training history ({exc})") from None
    needed = {"epoch", "train_loss", "val_loss", "val_pck", "lr_reduced"}
    if not needed <= set(history.columns):
        raise InputError(path, f"training history lacks columns {sorted(needed - set(history.columns))}")
    for column in ("epoch", "train_loss", "val_loss", "val_pck"):
        values = pd.to_numeric(history[column], errors="coerce")
        if values.isna().any():
            row = int(values.isna().to_numpy().argmax())
            raise InputError(
                path, f"training history: column {column!r} has a non-numeric value in row {row + 1}"
            )
        history[column] = values
    history["lr_reduced"] = (
        history["lr_reduced"].astype(str).str.strip().str.lower().isin(["1", "true", "yes"])
    )
    return history


def _identity_val_pck(
    runs_dir: Path, data_dir, shift: int, experiment: int, limit: int | None
) -> float | None:
    """Identity validation PCK@0.2 of an experiment: evaluated (cached) with data, else read if saved."""
    if data_dir is not None:
        result = cached_baseline("identity", shift, experiment, runs_dir, data_dir, "val", limit=limit)
    else:
        identity = Run.baseline(runs_dir, "identity", Experiment(shift, experiment), CHAPTER)
        result = read_evaluation(identity.evaluation("val"))
    value = None if result is None else result.get("pck", {}).get("0.2")
    return None if value is None else float(value)


def _run_limit(run_dir: Path) -> int | None:
    """The window limit the run validated on (from its config.json), so the identity line sees the same
    validation windows as the run's own val PCK."""
    config = read_evaluation(Run(run_dir).config) or {}
    train_config = config.get("train_config")
    limit = train_config.get("limit") if isinstance(train_config, dict) else config.get("limit")
    return int(limit) if isinstance(limit, int) else None


def figure_format(path: str | Path) -> str:
    """The image format of a figure file from its extension (png without one); refused if matplotlib
    cannot write it, so that `report` can fail before it evaluates anything."""
    from matplotlib.figure import Figure

    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    if fmt not in Figure().canvas.get_supported_filetypes():
        raise PoseDenoiseError(f"{path}: unsupported image format {fmt!r}; use .png, .pdf or .svg")
    return fmt


def draw_figure(
    runs_dir: str | Path,
    path: str | Path,
    data_dir=None,
) -> Path:
    """Figure 1: per model (rows) and shifting scalar, the training and validation loss and the
    validation PCK@0.2 per epoch for experiments y = 1-3, dots at learning-rate reductions, and the
    identity function's validation PCK@0.2 as a dashed line (evaluated when `data_dir` is given, else
    read from `runs/baselines/identity/<k>.<y>/eval-val.json` if saved). The format follows the file's
    extension (png, pdf, svg, ...). Returns the path written.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter

    runs_dir, path = Path(runs_dir), Path(path)
    fmt = figure_format(path)
    fig = Figure(figsize=(16, 13), layout="constrained")
    if data_dir is not None:
        data_dir = load_dataset(data_dir)

    colors = {1: "tab:blue", 2: "tab:orange", 3: "tab:green"}
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    axes = fig.subplots(len(MODEL_LABELS), 4, squeeze=False)
    found = 0
    identity_cache: dict[tuple[int, int, int | None], float | None] = {}
    for row, (model, label) in enumerate(MODEL_LABELS.items()):
        for col_k, shift in enumerate((1, 2)):
            ax_loss, ax_pck = axes[row, 2 * col_k], axes[row, 2 * col_k + 1]
            ax_loss.set_title(f"{label}, k = {shift}: loss", fontsize=9)
            ax_pck.set_title(f"{label}, k = {shift}: val PCK@0.2 (%)", fontsize=9)
            plotted = False
            for y in (1, 2, 3):
                run = Run.trained(runs_dir, model, Experiment(shift, y), CHAPTER)
                if not run.history.is_file():
                    continue
                h = read_history(run.history)
                if h.empty:
                    continue
                found += 1
                plotted = True
                c, red = colors[y], h["lr_reduced"].to_numpy()
                epoch = h["epoch"].to_numpy()
                ax_loss.plot(epoch, h["train_loss"], color=c, lw=1.2)
                ax_loss.plot(epoch, h["val_loss"], color=c, lw=1.2, ls="--")
                ax_loss.plot(epoch[red], h["train_loss"].to_numpy()[red], "o", color=c, ms=4)
                ax_loss.plot(epoch[red], h["val_loss"].to_numpy()[red], "o", color=c, ms=4)
                pck = 100.0 * h["val_pck"].to_numpy(dtype=float)
                ax_pck.plot(epoch, pck, color=c, lw=1.2)
                ax_pck.plot(epoch[red], pck[red], "o", color=c, ms=4)
                key = (shift, y, _run_limit(run.dir))
                if key not in identity_cache:
                    identity_cache[key] = _identity_val_pck(runs_dir, data_dir, shift, y, key[2])
                if identity_cache[key] is not None:
                    ax_pck.axhline(100.0 * identity_cache[key], color=c, lw=1, ls=":")
            for ax in (ax_loss, ax_pck):
                ax.set_xlabel("epoch", fontsize=8)
                ax.tick_params(labelsize=7)
                if not plotted:
                    ax.text(
                        0.5, 0.5, "no runs", ha="center", va="center", transform=ax.transAxes, color="grey"
                    )
                    ax.set_xticks([])
                    ax.set_yticks([])
            if plotted and _all_positive(ax_loss):
                ax_loss.set_yscale("log")  # losses fall by orders of magnitude; plain tick labels, not 6x10^1
                ax_loss.yaxis.set_major_formatter(plain)
                low, high = ax_loss.get_ylim()
                if high < 10 * low:  # within a decade the minor ticks are the only labels; else too many
                    ax_loss.yaxis.set_minor_formatter(plain)
                ax_loss.tick_params(which="both", labelsize=7)
    if found == 0:
        raise PoseDenoiseError(f"{runs_dir}: no training histories (runs/<model>/<k>.<y>/history.csv) found")

    handles = [Line2D([], [], color=colors[y], lw=2, label=f"experiment {y} (k.{y})") for y in (1, 2, 3)]
    handles += [
        Line2D([], [], color="black", lw=1.2, label="training loss / validation PCK@0.2"),
        Line2D([], [], color="black", lw=1.2, ls="--", label="validation loss"),
        Line2D([], [], color="black", lw=1, ls=":", label="identity function, validation PCK@0.2"),
        Line2D([], [], color="black", marker="o", ls="", ms=4, label="learning-rate reduction"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=4, fontsize=9, frameon=False)
    fig.suptitle(
        "Training loss, validation loss and validation PCK@0.2 per epoch (rows: 3DConv, DeciWatch, "
        "bi-ConvLSTM Model S, bi-ConvLSTM Model C)",
        fontsize=11,
    )
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=150)
    return path


def _all_positive(ax) -> bool:
    values = np.concatenate([np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()] or [[]])
    return values.size > 0 and bool(np.all(values[np.isfinite(values)] > 0))
