"""Multi-process training: two gloo processes on CPU started by torchrun train one run with
DDP. Rank 0 writes the run; the epoch's batches are split between the ranks; the ranks stay in sync; a
DDP run stopped after an epoch and resumed ends where an uninterrupted one ends (each rank's RNG state)."""

from __future__ import annotations

import collections
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from posedenoise.checkpoint import read_checkpoint
from posedenoise.dataset import PreparedDataset
from posedenoise.noise import Experiment
from posedenoise.pipeline import TrainWindows, window_arrays

WORKER = Path(__file__).with_name("ddp_worker.py")

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()), reason="torch.distributed with gloo needed"
)


@pytest.fixture(scope="module")
def ddp_run(prepared_dir, tmp_path_factory):
    """Launch the worker once on two processes; returns (runs dir, per-rank records)."""
    tmp = tmp_path_factory.mktemp("ddp")
    runs, out = tmp / "runs", tmp / "out"
    out.mkdir()
    # --standalone: a local rendezvous on a free port chosen by torchrun (no port race between test runs)
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        str(WORKER), str(prepared_dir), str(runs), str(out),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, f"torchrun failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(2)]
    return runs, ranks


def test_rank0_writes_the_run(ddp_run):
    runs, ranks = ddp_run
    run_dir = runs / "conv3d" / "1.1"
    assert sorted(p.name for p in run_dir.iterdir()) == ["best.pt", "config.json", "history.csv", "last.pt"]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["world_size"] == 2 and config["train_windows"] == 32 and config["device"] == "cpu"
    with open(run_dir / "history.csv", newline="") as f:
        assert [int(row["epoch"]) for row in csv.DictReader(f)] == [1, 2]
    assert [r["world_size"] for r in ranks] == [2, 2] and [r["rank"] for r in ranks] == [0, 1]


def test_the_epoch_is_split_between_the_ranks(ddp_run, prepared_dir):
    _, ranks = ddp_run
    ds = PreparedDataset.load(prepared_dir)
    single = TrainWindows(ds, Experiment(1, 1), seed=0, batch_size=8, limit=32)
    assert len(single) == 4
    expected = collections.Counter(row.tobytes() for row in window_arrays(ds, 1, "train", 32).gt_coords)
    for epoch in (1, 2):
        per_rank = [[gt for e, gt in r["seen"]["conv3d"] if e == epoch] for r in ranks]
        assert [len(batches) for batches in per_rank] == [2, 2]  # half of the single-process batches each
        together = collections.Counter(
            row.numpy().tobytes() for batches in per_rank for gt in batches for row in gt
        )
        assert together == expected  # every training window exactly once per epoch, over both ranks


def test_the_ranks_stay_in_sync(ddp_run):
    runs, ranks = ddp_run
    last = read_checkpoint(runs / "conv3d" / "1.1" / "last.pt")["state_dict"]
    for run in ("conv3d", "conv3d-micro", "deciwatch-b"):
        a, b = (r["weights"][run] for r in ranks)
        assert all(torch.equal(a[k], b[k]) for k in a), run
    assert all(torch.equal(ranks[0]["weights"]["conv3d"][k], last[k]) for k in last)
    # the ranks saw different windows, so the weights moved by the averaged gradient of both
    assert not torch.equal(ranks[0]["seen"]["conv3d"][0][1], ranks[1]["seen"]["conv3d"][0][1])


def test_a_stopped_ddp_run_resumes_exactly(ddp_run):
    runs, _ = ddp_run
    dir_a, dir_b = runs / "a" / "deciwatch" / "1.1", runs / "b" / "deciwatch" / "1.1"
    a, b = read_checkpoint(dir_a / "last.pt"), read_checkpoint(dir_b / "last.pt")
    assert a["epoch"] == b["epoch"] == 3
    strip = [{k: v for k, v in row.items() if k != "seconds"} for row in a["history"]]
    assert strip == [{k: v for k, v in row.items() if k != "seconds"} for row in b["history"]]
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])


def test_micro_batches_under_ddp_train_as_whole_batches(ddp_run):
    runs, ranks = ddp_run
    assert json.loads((runs / "micro" / "conv3d" / "1.1" / "config.json").read_text())["micro_batch"] == 3
    whole, micro = ranks[0]["weights"]["conv3d"], ranks[0]["weights"]["conv3d-micro"]
    for k in whole:
        torch.testing.assert_close(micro[k], whole[k], rtol=1e-4, atol=1e-5)
