"""Peak resident memory of training on a prepared dataset, measured in this fresh process.

    python benchmarks/rss_child.py --data DIR --model convlstm-s [--steps 2] [--precision fp32]

Holds what `train.fit` holds for a run (the dataset, the whole training split on the device, the whole
validation split with its noise, the model and Adam), trains `--steps` batches as `train.fit` does (in
micro-batches where `train.micro_batch_for` says so) and evaluates one validation batch of the evaluation
batch size, then prints one JSON line with its peak resident memory.
Run by benchmarks/run.py; a subprocess so that earlier work does not count towards the peak.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import torch

from posedenoise import runtime
from posedenoise.dataset import PreparedDataset
from posedenoise.models import create_model
from posedenoise.noise import Experiment
from posedenoise.pipeline import TrainWindows, eval_inputs
from posedenoise.train import TrainConfig, evaluate, micro_batch_for, train_step

EVAL_BATCH = TrainConfig.eval_batch_size  # one such batch is evaluated


def rss_mb() -> float:
    """Peak resident memory of this process so far, in MB.

    VmHWM of /proc/self/status, not getrusage's ru_maxrss: Linux carries ru_maxrss over from the parent
    across fork and exec, so a child of a process that has already trained a model would report the
    parent's peak. VmHWM belongs to this process's own address space."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-tune", action="store_true", help="without runtime.tune_cpu_allocator")
    parser.add_argument("--eval-batch", type=int, default=EVAL_BATCH)
    parser.add_argument("--micro-batch", type=int, default=0, help="0: auto, as train.fit")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    # the process-wide setting fit() makes for CPU training (unless asked to measure without it)
    tuned = False
    if not args.no_tune:
        tuned = runtime.tune_cpu_allocator()
    torch.set_flush_denormal(True)  # as fit() on the CPU

    t0 = time.perf_counter()
    base = rss_mb()
    ds = PreparedDataset.load(args.data)
    exp = Experiment(1, 1)
    windows = TrainWindows(ds, exp, seed=0, batch_size=16)
    val = eval_inputs(ds, exp, "val")
    after_data = rss_mb()

    torch.manual_seed(0)
    model = create_model(args.model).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    device = torch.device("cpu")
    micro_batch = micro_batch_for(model, windows.batch_size, device, args.micro_batch)
    for i, batch in enumerate(windows.epoch(1)):
        if i == args.steps:
            break
        train_step(model, optimizer, batch, args.precision, micro_batch)
    after_train = rss_mb()
    evaluate(
        model, eval_inputs(ds, exp, "val", limit=args.eval_batch), device, args.eval_batch, args.precision
    )
    print(
        json.dumps(
            {
                "model": args.model,
                "precision": args.precision,
                "frames": len(ds.coords),
                "train_windows": windows.n,
                "val_windows": len(val),
                "steps": args.steps,
                "micro_batch": micro_batch,
                "eval_batch": args.eval_batch,
                "allocator_tuned": tuned,
                "peak_rss_mb": rss_mb(),
                "rss_mb_after_import": base,
                "rss_mb_after_data": after_data,
                "rss_mb_after_train_steps": after_train,
                "seconds": time.perf_counter() - t0,
            }
        )
    )


if __name__ == "__main__":
    main()
