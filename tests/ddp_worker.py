"""Started by tests/test_ddp.py under `torchrun --nproc_per_node 2` (gloo on CPU); not a test module.

Usage: ddp_worker.py DATA_DIR RUNS_DIR OUT_DIR

Every rank trains the same runs with `posedenoise.train.fit` and saves, to OUT_DIR/rank<r>.pt, the ground
truth of every training window it was given (to check the split of the epoch) and its final weights (to
check that the ranks stay in sync).
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import torch
import torch.distributed as dist

from posedenoise import pipeline, train
from posedenoise.train import TrainConfig, fit

DECIWATCH = {"embed_dim": 16, "heads": 2, "encoder_layers": 1, "decoder_layers": 1, "ffn": 32}


def main(data_dir: str, runs_dir: str, out_dir: str) -> None:
    rank = int(os.environ["RANK"])
    seen: dict[str, list] = {}  # run -> [(epoch, gt coords (B, 5, 25, 2))] on this rank
    models: dict[str, torch.nn.Module] = {}
    current = {"run": ""}

    epoch_of = pipeline.TrainWindows.epoch

    def recording_epoch(self, epoch):
        for batch in epoch_of(self, epoch):
            seen.setdefault(current["run"], []).append((epoch, batch.gt_coords.clone()))
            yield batch

    create_model = train.create_model

    def keeping_create_model(name, **options):
        models[current["run"]] = model = create_model(name, **options)
        return model

    pipeline.TrainWindows.epoch = recording_epoch
    train.create_model = keeping_create_model

    # 32 windows in batches of 8: 4 batches an epoch, 2 on each rank
    current["run"] = "conv3d"
    conv3d = TrainConfig(
        model="conv3d", model_options={"kernel_size": 3}, batch_size=8, limit=32, max_epochs=2
    )
    fit(conv3d, data_dir, runs_dir, device="cpu")
    # the same run in micro-batches of 3 (3 + 3 + 2): gradients all-reduced once per batch (no_sync)
    current["run"] = "conv3d-micro"
    fit(replace(conv3d, micro_batch_size=3), data_dir, Path(runs_dir) / "micro", device="cpu")

    # resume under DDP: 28 windows in batches of 8 give ranks batches of 8, 8 and 8, 4 windows, so their
    # dropout draws (global RNG) differ; a resumed run must restore each rank's own RNG state
    deciwatch = TrainConfig(model="deciwatch", model_options=DECIWATCH, batch_size=8, limit=28, max_epochs=3)
    current["run"] = "deciwatch-a"
    fit(deciwatch, data_dir, Path(runs_dir) / "a", device="cpu")
    current["run"] = "deciwatch-b"
    # stopped after epoch 1 (its epoch cap), then continued with the cap raised: a callback cannot stop
    # every process at once in one test process, and the resumed part is what this checks
    fit(replace(deciwatch, max_epochs=1), data_dir, Path(runs_dir) / "b", device="cpu")
    torch.manual_seed(1234 + rank)  # a new process would start from another state
    fit(deciwatch, data_dir, Path(runs_dir) / "b", device="cpu", resume=True)

    torch.save(
        {
            "rank": rank,
            "world_size": dist.get_world_size(),
            "seen": {run: [(e, gt) for e, gt in batches] for run, batches in seen.items()},
            "weights": {
                run: {k: v.detach().clone() for k, v in m.state_dict().items()} for run, m in models.items()
            },
        },
        Path(out_dir) / f"rank{rank}.pt",
    )
    dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:4])
