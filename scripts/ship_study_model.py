"""Package a trained study run as a shipped model `<model>-<k>.<y>`: its `best.pt` (weights and meta, no
optimizer) with a card in the meta, evaluated on held-out data beside the identity function and the
classic smoothers, and the model card `docs/models/<name>.md`.

    posedenoise prepare --synthetic --seed 12345 --out data/held-out
    python scripts/ship_study_model.py study-long/runs/deciwatch/1.2 deciwatch-1.2 --held-out data/held-out \\
        --data "1,000 synthetic videos (make study-long's data, seed 0)" \\
        --command "make study-long" --recipe "Trained with ..." [--cpu-hours H]

The card records the test PCK on the whole test split and on its first `--subset` windows, which is what
`tests/test_shipped_study_models.py` re-measures; `posedenoise models` prints the card's summary line.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from posedenoise.checkpoint import read_checkpoint
from posedenoise.evaluate import evaluate_baseline, evaluate_checkpoint
from posedenoise.models import display_name
from posedenoise.shipped import export_checkpoint

ROOT = Path(__file__).resolve().parents[1]
BASELINES = {
    "identity": "identity function",
    "gaussian": "Gaussian smoother",
    "savgol": "Savitzky-Golay",
    "oneeuro": "One Euro",
}
ALPHAS = ("0.05", "0.1", "0.2")


def pct(pck: dict, sep: str = "/") -> str:
    return sep.join(f"{100 * pck[a]:.1f}" for a in ALPHAS)


def held_out_description(held_out: Path) -> str:
    """What the test data is, from its manifest: the command that made it and its size."""
    manifest = json.loads((held_out / "manifest.json").read_text())
    sources = manifest["sources"]
    made_by = "posedenoise prepare" + (" --synthetic" if sources == ["synthetic"] else "")
    videos = f"{manifest['counts']['videos']:,} videos of {', '.join(sources)}"
    return f"{made_by} --seed {manifest['seed']} ({videos}), test split"


def study_card(run: Path, held_out: Path, data: str, command: str, subset: int, cpu_hours: float | None):
    ckpt = read_checkpoint(run / "best.pt")
    meta = ckpt["meta"]
    k, y = meta["shift"], meta["experiment"]
    history = list(csv.DictReader(open(run / "history.csv")))
    if cpu_hours is None:  # one thread per run: the run's own wall-clock seconds
        cpu_hours = sum(float(r["seconds"]) for r in history) / 3600
    whole = evaluate_checkpoint(run / "best.pt", held_out, split="test")
    part = evaluate_checkpoint(run / "best.pt", held_out, split="test", limit=subset)
    baselines = {b: evaluate_baseline(b, k, y, held_out, split="test")["pck"] for b in BASELINES}
    part_baselines = {
        b: evaluate_baseline(b, k, y, held_out, split="test", limit=subset)["pck"]
        for b in ("identity", "gaussian")
    }
    train_windows = json.loads((run / "config.json").read_text())["train_windows"]
    return {
        "summary": (
            f"k = {k}, experiment {y} noise; {train_windows:,} synthetic training windows, {len(history)} "
            f"epoch(s), {cpu_hours:.2f} CPU-h; test PCK@0.05/0.1/0.2 {pct(whole['pck'])} (identity "
            f"{pct(baselines['identity'])}, Gaussian {pct(baselines['gaussian'])})"
        ),
        "data": f"{data}: {train_windows:,} training windows",
        "noise": f"chapter's detector noise, k = {k}, experiment {y}",
        "training": {
            "command": command,
            "epochs": len(history),
            "best_epoch": meta["epoch"],
            "val_pck": [round(float(r["val_pck"]), 4) for r in history],
            "train_config": meta["train_config"],
        },
        "cpu_hours": round(cpu_hours, 3),
        "test": {
            "data": held_out_description(held_out),
            "windows": whole["windows"],
            "pck": whole["pck"],
            "baselines": baselines,
            "subset_windows": subset,
            "subset_pck": part["pck"],
            "subset_baselines": part_baselines,
        },
    }


def card_markdown(name: str, card: dict, prepare: str, recipe: str) -> str:
    model, exp = name.rsplit("-", 1)
    k, y = exp.split(".")
    config = card["training"]["train_config"]
    test = card["test"]
    options = json.dumps(config["model_options"]) if config["model_options"] else "none (the chapter's)"
    warmup = f" with a {config['warmup_steps']}-step linear warm-up" if config.get("warmup_steps") else ""
    limit = f", at most {config['limit']:,} windows per split" if config.get("limit") else ""
    val = ", ".join(f"{100 * v:.1f}" for v in card["training"]["val_pck"])
    rows = [f"| **{name}** | {pct(test['pck'], ' | ')} |"]
    rows += [f"| {label} | {pct(test['baselines'][b], ' | ')} |" for b, label in BASELINES.items()]
    return "\n".join(
        [
            f"# {name}",
            "",
            f"{display_name(model)} trained for the chapter's experiment {exp} (shift k = {k}: detector "
            f"shifts of {3 * int(k)} px standard deviation per coordinate; experiment {y}: input blur "
            f"sigma_in = 1). {recipe}",
            "",
            "## How it was made",
            "",
            "```bash",
            prepare,
            card["training"]["command"],
            "```",
            "",
            f"The shipped file is the run's `best.pt` (epoch {card['training']['best_epoch']} of "
            f"{card['training']['epochs']}, highest validation PCK@0.2) with its weights and meta, and this "
            "card in the meta; no optimizer state. It was packaged with "
            "`python scripts/ship_study_model.py`.",
            "",
            f"- Data: {card['data']}{limit}.",
            f"- Noise: the {card['noise']}, redrawn every epoch.",
            f"- Training: {card['training']['epochs']} epoch(s), batch {config['batch_size']}, Adam lr "
            f"{config['lr']:g}{warmup}, {config['precision']}, seed {config['seed']}; "
            f"model options {options}.",
            f"- Validation PCK@0.2 after each epoch: {val}.",
            f"- CPU-hours: {card['cpu_hours']:.2f} (the run's wall-clock time on one thread of a "
            "2-core machine).",
            "",
            "## Test results",
            "",
            f"On the test split of a synthetic set prepared with a seed never used in training "
            f"({test['windows']:,} windows, every model and smoother on the same noisy inputs):",
            "",
            "```bash",
            "posedenoise prepare --synthetic --seed 12345 --out data/held-out",
            f"posedenoise evaluate {name} --data data/held-out",
            f"posedenoise evaluate identity --shift {k} --experiment {y} --data data/held-out"
            "   # likewise gaussian, savgol, oneeuro",
            "```",
            "",
            "| | PCK@0.05 | PCK@0.1 | PCK@0.2 |",
            "|---|---|---|---|",
            *rows,
            "",
            f"On the first {test['subset_windows']} of those test windows "
            f"(`--limit {test['subset_windows']}`; what `tests/test_shipped_study_models.py` checks): "
            f"{pct(test['subset_pck'], ' / ')} (identity "
            f"{pct(test['subset_baselines']['identity'], ' / ')}, Gaussian smoother "
            f"{pct(test['subset_baselines']['gaussian'], ' / ')}).",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="the run folder (its best.pt and history.csv)")
    parser.add_argument("name", help="shipped name, <model>-<k>.<y>")
    parser.add_argument(
        "--held-out", type=Path, required=True, help="prepare --synthetic --seed 12345 output"
    )
    parser.add_argument("--data", required=True, help="what the run was trained on, in words")
    parser.add_argument("--command", required=True, help="the command that trained the run")
    parser.add_argument(
        "--prepare", default="posedenoise prepare --synthetic", help="the command that made its data"
    )
    parser.add_argument("--recipe", default="", help="a sentence on the recipe, for the model card")
    parser.add_argument("--subset", type=int, default=64, help="test windows the tests re-measure")
    parser.add_argument("--cpu-hours", type=float, default=None)
    args = parser.parse_args(argv)
    card = study_card(args.run, args.held_out, args.data, args.command, args.subset, args.cpu_hours)
    card["doc"] = f"docs/models/{args.name}.md"
    target = export_checkpoint(args.run / "best.pt", args.name, card)
    doc = ROOT / card["doc"]
    doc.write_text(card_markdown(args.name, card, args.prepare, args.recipe))
    print(f"{target} ({target.stat().st_size:,} bytes), {doc}: {card['summary']}")


if __name__ == "__main__":
    main()
