"""Before/after of the bi-ConvLSTM fast paths: one training step (forward + backward, batch 16) of the
model as first written (`--before`, a git revision of src/posedenoise/models/convlstm.py) and as it is
now, alternated in one process on the same input with the same weights.

    python benchmarks/ab_convlstm.py [--model convlstm-s] [--precision fp32] [--repeats 3]
                                     [--threads 2] [--tune-allocator] [--before 943c708]

`--tune-allocator` applies `runtime.tune_cpu_allocator()` and flushes subnormal floats first (both
process-wide, as `fit` does on the CPU); run once with and once without it to see the difference.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from posedenoise.heatmaps import render
from posedenoise.models import convlstm as current
from posedenoise.runtime import tune_cpu_allocator

ROOT = Path(__file__).resolve().parent.parent
CLASSES = {"convlstm-s": "BiConvLSTMSum", "convlstm-c": "BiConvLSTMConcat"}


def load_revision(revision: str):
    """The convlstm module as it was at `revision`, imported from a temporary file."""
    source = subprocess.run(
        ["git", "show", f"{revision}:src/posedenoise/models/convlstm.py"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    path = Path(tempfile.mkdtemp()) / "convlstm_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("convlstm_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="convlstm-s", choices=sorted(CLASSES))
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tune-allocator", action="store_true")
    parser.add_argument("--before", default="943c708", help="git revision of the first implementation")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tuned = tune_cpu_allocator() if args.tune_allocator else False
    torch.set_flush_denormal(args.tune_allocator)  # with the allocator setting, as fit() on the CPU

    g = torch.Generator().manual_seed(0)
    coords = torch.rand(16, 5, 25, 2, generator=g) * 55
    present = torch.rand(16, 5, 25, generator=g) > 0.1
    x, target = render(coords, present, 1.5), render(coords, present, 1.0)
    before = load_revision(args.before)
    models = {}
    for label, module in (("before", before), ("after", current)):
        torch.manual_seed(0)
        models[label] = getattr(module, CLASSES[args.model])(module.BiConvLSTMConfig())

    times: dict[str, list[float]] = {label: [] for label in models}
    outputs = {}
    for _ in range(args.repeats + 1):  # the first round warms up
        for label, model in models.items():
            model.zero_grad(set_to_none=True)
            t0 = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16"):
                y = model(x)
            ((y.float() - target) ** 2).mean().backward()
            times[label].append(time.perf_counter() - t0)
            outputs[label] = y.detach().float()
    a, b = outputs["before"], outputs["after"]
    result = {
        "model": args.model,
        "precision": args.precision,
        "threads": args.threads,
        "allocator_tuned": tuned,
        "before_revision": args.before,
        "before_step_s": min(times["before"][1:]),
        "after_step_s": min(times["after"][1:]),
        "before_median_s": statistics.median(times["before"][1:]),
        "after_median_s": statistics.median(times["after"][1:]),
        "speedup": min(times["before"][1:]) / min(times["after"][1:]),
        "output_relative_difference": float((a - b).norm() / a.norm()),
        "load_average": os.getloadavg(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
