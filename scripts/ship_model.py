"""Package a trained run as a shipped model: `posedenoise/weights/<name>.pt` with its card in the meta.

    python scripts/ship_model.py RUN_OR_CHECKPOINT NAME --summary "one line" [--eval FILE.json ...]
        [--doc docs/models/NAME.md] [--cpu-hours H]

Each `--eval` is an evaluation JSON written by `posedenoise evaluate ... --output FILE` (track models:
rows of methods; study models: the evaluation of section "Metrics"); they are stored in the card as
measured, so `posedenoise models` and the tests can show and check them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from posedenoise.checkpoint import read_checkpoint
from posedenoise.shipped import export_checkpoint


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="run folder (its best.pt) or checkpoint")
    parser.add_argument("name", help="shipped name, e.g. posetcn or conv3d-1.2")
    parser.add_argument("--summary", required=True, help="the one-line card `posedenoise models` prints")
    parser.add_argument("--eval", action="append", default=[], type=Path, help="evaluation JSON (repeatable)")
    parser.add_argument("--doc", default=None, help="the full model card in docs/")
    parser.add_argument("--cpu-hours", type=float, default=None)
    args = parser.parse_args(argv)
    meta = read_checkpoint(args.source)["meta"]
    card = {
        "summary": args.summary,
        "doc": args.doc or f"docs/models/{args.name}.md",
        "train_config": meta.get("train_config", {}),
        "cpu_hours": args.cpu_hours,
        "evaluations": [json.loads(p.read_text()) for p in args.eval],
    }
    print(export_checkpoint(args.source, args.name, card))


if __name__ == "__main__":
    main()
