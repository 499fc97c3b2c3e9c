"""Training (chapter 1.2.3), torchvision-reference style.

`fit(config)` runs one of the 24 runs into `runs/<model>/<k>.<y>/` (`<k>.<y>-realistic/` when trained with
the realistic detector-noise profile, `config.noise`): `config.json`, `history.csv`,
`best.pt` (highest validation PCK@0.2) and `last.pt` (everything needed to resume). The schedule is
two pure functions (`plateau_step`, `should_stop`); progress goes through a callback so the CLI decides
how to show it. Under `torchrun` the same code trains with DDP and rank 0 writes the run.
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import io
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from posedenoise import checks, fileio
from posedenoise.checkpoint import load_weights_into, read_checkpoint, save_checkpoint
from posedenoise.constants import GRID
from posedenoise.dataset import PreparedDataset
from posedenoise.errors import InputError, PoseDenoiseError
from posedenoise.heatmaps import argmax
from posedenoise.models import create_model, study_models
from posedenoise.noise import ALL_EXPERIMENTS, Experiment, NoiseProfile, make_noise
from posedenoise.pipeline import Batch, EvalInputs, TrainWindows, eval_inputs, iterate_batches
from posedenoise.runs import RUN_FILES, Run

TRAINABLE_MODELS = study_models()  # the chapter's four, in the order of its tables
HISTORY_COLUMNS = ("epoch", "train_loss", "val_loss", "val_pck", "lr", "lr_reduced", "seconds")

Callback = Callable[[dict[str, Any]], None]


@dataclass
class TrainConfig:
    model: str  # registry name: conv3d, deciwatch, convlstm-s, convlstm-c
    shift: int = 1  # k: detector-noise shift std is 3k grid pixels
    experiment: int = 1  # y: 1 random sigma_in, 2 sigma_in = 1, 3 half frame rate
    model_options: dict = field(default_factory=dict)  # create_model(**options); {} = the chapter's sizes
    batch_size: int = 16  # chapter: 16
    micro_batch_size: int = 0  # windows per forward/backward, gradients summed to the batch; 0 = auto
    lr: float = 1e-3  # Adam learning rate
    # linear learning-rate warm-up over the first optimizer steps (0: none, the chapter's recipe); a
    # post-norm transformer (DeciWatch) at lr 1e-3 from the first step trains far worse (docs/fidelity.md)
    warmup_steps: int = 0
    betas: tuple[float, float] = (0.9, 0.999)  # Adam betas
    max_epochs: int = 50  # hard stop
    lr_patience: int = 5  # epochs without a new lowest val loss before lr *= lr_factor
    stop_patience: int = 10  # epochs without a new lowest val loss before stopping
    lr_factor: float = 0.1
    limit: int | None = None  # cap on windows per split (quick runs); None = all
    fixed_noise: bool = False  # one noise draw per training window (the chapter) instead of one per epoch
    seed: int = 0  # model init, shuffling, training noise; val/test noise comes from the data's seed
    precision: str = "fp32"  # fp32 | bf16 (autocast)
    eval_batch_size: int = 16  # windows rendered at once for validation (16: 1.4 GB less peak at full scale)
    init_from: str | None = None  # checkpoint to fine-tune from
    noise: str = "chapter"  # detector noise: "chapter" (Tables 1-4) or "realistic" (noise.RealisticNoise)
    noise_options: dict = field(default_factory=dict)  # realistic: overrides of RealisticNoise's fields

    @property
    def exp(self) -> Experiment:
        return Experiment(self.shift, self.experiment)

    def noise_profile(self) -> NoiseProfile:
        """The detector noise this run trains and validates with (an unknown profile or option fails)."""
        return make_noise(self.noise, self.noise_options)

    def validate(self) -> TrainConfig:
        """Refuse values no run can use (each named by its command-line option); returns self."""
        if self.model not in TRAINABLE_MODELS:
            known = ", ".join(TRAINABLE_MODELS)
            raise PoseDenoiseError(f"--model must be one of {known}, got {self.model!r}")
        if self.precision not in ("fp32", "bf16"):
            raise PoseDenoiseError(f"--precision must be fp32 or bf16, got {self.precision!r}")
        Experiment(self.shift, self.experiment)  # checks --shift and --experiment
        checks.whole("--batch-size", self.batch_size, 1)
        checks.whole("--micro-batch", self.micro_batch_size, 0)
        checks.whole("--max-epochs", self.max_epochs, 1)
        checks.whole("--warmup-steps", self.warmup_steps, 0)
        if self.limit is not None:
            checks.whole("--limit", self.limit, 1)
        checks.seed("--seed", self.seed)
        checks.number("--lr", self.lr, 0.0, 1.0)
        checks.whole("eval_batch_size", self.eval_batch_size, 1)
        checks.whole("lr_patience", self.lr_patience, 1)
        checks.whole("stop_patience", self.stop_patience, 1)
        checks.number("lr_factor", self.lr_factor, 0.0, 1.0, above=True)
        for name, value in self.noise_options.items():
            if not isinstance(value, (list, tuple)):
                checks.number(f"--noise-option {name}", value)
        return self


# ----------------------------------------------------------------------------- schedule (pure functions)


@dataclass(frozen=True)
class PlateauState:
    best_val_loss: float = math.inf
    epochs_since_best: int = 0  # consecutive epochs without a new lowest validation loss
    lr: float = 1e-3


def plateau_step(
    state: PlateauState, val_loss: float, lr_patience: int = 5, lr_factor: float = 0.1
) -> tuple[PlateauState, bool]:
    """Update after an epoch's validation loss; returns the new state and whether the lr was reduced.

    The lr is multiplied by `lr_factor` each time the lowest validation loss has not been beaten for a
    multiple of `lr_patience` consecutive epochs (chapter 1.2.3: after 5, again after 10 if not stopped).
    """
    if val_loss < state.best_val_loss:
        return replace(state, best_val_loss=val_loss, epochs_since_best=0), False
    since = state.epochs_since_best + 1
    reduce = since % lr_patience == 0
    lr = state.lr * lr_factor if reduce else state.lr
    return replace(state, epochs_since_best=since, lr=lr), reduce


def should_stop(state: PlateauState, epoch: int, stop_patience: int = 10, max_epochs: int = 50) -> bool:
    """Stop after `stop_patience` epochs without a new lowest validation loss, or after `max_epochs`
    (`epoch` counts from 1)."""
    return state.epochs_since_best >= stop_patience or epoch >= max_epochs


# ----------------------------------------------------------------------------- loss and one epoch


def masked_loss(model: torch.nn.Module, output: torch.Tensor, batch: Batch) -> torch.Tensor:
    """MSE with missing joints contributing zero loss and zero gradient.

    Heatmap models: MSE over heatmaps; DeciWatch: MSE over coordinates normalised to [0, 1]. As in the
    chapter (target := prediction for missing joints) the mean runs over all elements, so loss values
    compare with the chapter's Figure 1.
    """
    mask = batch.present.to(output.dtype)  # (B, T, K)
    model = getattr(model, "module", model)  # DDP wraps the model and hides its output_kind
    if getattr(model, "output_kind", "heatmaps") == "coords":
        diff = (output.float() - batch.gt_coords) / (GRID - 1)  # (B, T, K, 2)
        return (diff.square() * mask.unsqueeze(-1)).mean()
    diff = output.float() - batch.target  # (B, T, K, H, W)
    return (diff.square() * mask[..., None, None]).mean()


def _autocast(device: torch.device, precision: str):
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return torch.autocast(device.type, enabled=False)


def micro_batch_for(model: torch.nn.Module, batch_size: int, device: torch.device, requested: int = 0) -> int:
    """Windows per forward/backward pass: `requested`, or else (0, auto) the model's `cpu_micro_batch`
    on the CPU and the whole batch elsewhere.

    The bi-ConvLSTMs keep ~160 MB of activations per window for their backward pass: 2.8 GB at batch 16
    in fp32, against a 2 GB budget for the whole of training on the CPU. In parts of 2 windows they keep
    0.2-0.5 GB at the same speed (their convolutions stay as efficient at 2 x 5 frames), and summing the
    parts' gradients gives the batch's gradient (docs/performance.md). A GPU has the memory for the batch.
    """
    if requested < 0:
        raise PoseDenoiseError(f"--micro-batch must be 0 (auto) or positive, got {requested}")
    model = getattr(model, "module", model)
    auto = getattr(model, "cpu_micro_batch", None) if device.type == "cpu" else None
    return min(requested or auto or batch_size, batch_size)


def train_step(model, optimizer, batch: Batch, precision: str = "fp32", micro_batch: int | None = None):
    """One optimizer step on `batch`, run in parts of `micro_batch` windows whose gradients add up to
    the whole batch's (each part's loss weighted by its share of the batch: the loss is a mean over
    windows). Returns the batch loss (a detached tensor)."""
    device = batch.x.device
    parts = batch.split(micro_batch or len(batch.x))
    optimizer.zero_grad(set_to_none=True)
    total = torch.zeros((), device=device)
    for j, part in enumerate(parts):
        # under DDP gradients are all-reduced once, with the last part (no_sync spans forward and backward)
        sync = j + 1 == len(parts) or not hasattr(model, "no_sync")
        with contextlib.nullcontext() if sync else model.no_sync():
            with _autocast(device, precision):
                output = model(part.x)
            loss = masked_loss(model, output, part) * (len(part.x) / len(batch.x))
            loss.backward()
        total += loss.detach()
    optimizer.step()
    return total


def train_one_epoch(
    model,
    optimizer,
    windows: TrainWindows,
    epoch: int,
    precision: str = "fp32",
    callback: Callback | None = None,
    micro_batch: int | None = None,
    warmup_steps: int = 0,
) -> float:
    """One pass over the training windows; returns the mean batch loss (averaged over ranks).

    With `warmup_steps`, the learning rate of the optimizer's groups (as set for this epoch) is scaled by
    step / warmup_steps over the run's first steps; steps are counted from epoch 1, so a resumed run
    warms up exactly as an uninterrupted one."""
    model.train()
    device = windows.device
    total, count = torch.zeros((), device=device), 0
    n_batches = len(windows)
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    first_step = (epoch - 1) * n_batches  # optimizer steps taken before this epoch
    for i, batch in enumerate(windows.epoch(epoch)):
        if warmup_steps and first_step + i < warmup_steps:
            for group, base in zip(optimizer.param_groups, base_lrs, strict=True):
                group["lr"] = base * (first_step + i + 1) / warmup_steps
        elif warmup_steps:
            for group, base in zip(optimizer.param_groups, base_lrs, strict=True):
                group["lr"] = base
        loss = train_step(model, optimizer, batch, precision, micro_batch)
        total += loss
        count += 1
        if callback is not None and (i % 10 == 0 or i + 1 == n_batches):
            callback(
                {"event": "batch", "epoch": epoch, "batch": i + 1, "batches": n_batches, "loss": loss.item()}
            )
    stats = torch.stack([total, torch.tensor(float(count), device=device)])
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(stats)
    return float(stats[0] / stats[1].clamp(min=1))


@torch.inference_mode()
def evaluate(
    model,
    inputs: EvalInputs,
    device: torch.device,
    batch_size: int = 64,
    precision: str = "fp32",
    alpha: float = 0.2,
    rank: int = 0,
    world_size: int = 1,
) -> tuple[float, float]:
    """Validation loss and PCK@alpha over `inputs` (sharded across ranks, reduced)."""
    model.eval()
    sums = torch.zeros(3, dtype=torch.float64, device=device)  # loss * windows, hits, counted
    for batch in iterate_batches(inputs, batch_size, device, rank=rank, world_size=world_size):
        with _autocast(device, precision):
            output = model(batch.x)
        loss = masked_loss(model, output, batch)
        pred = (
            output.float()
            if getattr(model, "output_kind", "heatmaps") == "coords"
            else argmax(output.float())
        )
        dist_px = (pred - batch.gt_coords).norm(dim=-1)  # (B, T, K)
        counted = batch.present & torch.isfinite(batch.torso).unsqueeze(-1)
        hits = counted & (dist_px <= alpha * batch.torso.unsqueeze(-1))
        sums += torch.stack([loss.double() * len(batch.x), hits.sum().double(), counted.sum().double()])
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(sums)
    return float(sums[0] / max(len(inputs), 1)), float(sums[1] / sums[2].clamp(min=1))


# ----------------------------------------------------------------------------- the run


def tune_cpu_allocator() -> bool:
    """Let freed activation buffers be reused instead of returned to the OS (glibc only; process-wide).

    A training step frees and reallocates buffers of up to ~130 MB (a bi-ConvLSTM activation at batch
    16). glibc serves blocks that large with mmap and unmaps them on free, so every step page-faults and
    zero-fills gigabytes anew: a sixth of a bi-ConvLSTM step's time on 2 CPU cores (docs/performance.md).
    Served from the heap, which is never trimmed, the next step reuses the same pages; the price is a
    peak resident memory up to ~15% higher (the heap's fragmentation). Returns whether it was set.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    m_trim_threshold, m_mmap_max = -1, -4  # glibc's malloc.h
    return bool(mallopt(m_mmap_max, 0)) and bool(mallopt(m_trim_threshold, 2**31 - 1))


DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?|mps")


def resolve_device(device: str) -> torch.device:
    """auto (a GPU if there is one), cpu, cuda, cuda:N or mps -> a device this machine has."""
    if not DEVICE_PATTERN.fullmatch(str(device)):
        raise PoseDenoiseError(f"--device must be auto, cpu, cuda, cuda:N or mps, got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise PoseDenoiseError(f"--device {device}: CUDA is not available on this machine")
        index = torch.device(device).index
        if index is not None and index >= torch.cuda.device_count():
            raise PoseDenoiseError(
                f"--device {device}: this machine has {torch.cuda.device_count()} GPU(s), cuda:0 to "
                f"cuda:{torch.cuda.device_count() - 1}"
            )
    if device == "mps" and not torch.backends.mps.is_available():
        raise PoseDenoiseError("--device mps: MPS is not available on this machine")
    return torch.device(device)


def _distributed() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment."""
    return (
        int(os.environ.get("RANK", 0)),
        int(os.environ.get("WORLD_SIZE", 1)),
        int(os.environ.get("LOCAL_RANK", 0)),
    )


def _history_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def sync_history(run_dir: Path, history: list[dict]) -> bool:
    """Rewrite `history.csv` from a checkpoint's history when they differ; returns whether it did.

    A kill between writing last.pt and history.csv leaves the file an epoch short; last.pt holds the
    whole history, so the file can always be rebuilt from it."""
    text = _history_csv(history)
    path = Run(run_dir).history
    try:
        if path.read_text() == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    fileio.write_text(path, text)
    return True


@dataclass
class FitResult:
    run_dir: Path
    epochs: int
    best_epoch: int
    best_val_pck: float
    stopped: str  # why training ended
    resumed_from: int = 0  # epochs already done when this call started
    history: list[dict] = field(default_factory=list)


def fit(
    config: TrainConfig,
    data_dir: str | Path = "data/prepared",
    runs_dir: str | Path = "runs",
    device: str = "auto",
    resume: bool = False,
    callback: Callback | None = None,
    _stop_after_epochs: int | None = None,
) -> FitResult:
    """Train one run. With `resume`, continue from `last.pt` and end exactly where an uninterrupted run
    with the same seed ends (noise and order are seeded per epoch, RNG states are checkpointed)."""
    config.validate()
    noise = config.noise_profile()
    exp = config.exp
    rank, world_size, local_rank = _distributed()
    distributed = world_size > 1
    dev = resolve_device(device)
    if distributed:
        if dev.type == "cuda":
            dev = torch.device("cuda", local_rank)
            torch.cuda.set_device(dev)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    if dev.type == "cpu":
        tune_cpu_allocator()
        # subnormal floats run in microcode on x86: an untrained DeciWatch hit them, first epoch 60x slower
        torch.set_flush_denormal(True)
    is_main = rank == 0
    emit = callback if (callback is not None and is_main) else None

    ds = PreparedDataset.load(data_dir)
    run = Run.trained(runs_dir, config.model, exp, noise)
    run_dir, last_path, best_path = run.dir, run.last, run.best

    state = None
    if last_path.exists():
        if not resume:
            raise PoseDenoiseError(
                f"{run_dir}: a run already exists; pass --resume to continue it or remove it"
            )
        state = read_checkpoint(last_path)
        resumable = ("optimizer", "plateau", "history", "epoch", "best_epoch", "best_val_pck", "rng_cpu")
        try:
            saved = TrainConfig(
                **{**state["meta"]["train_config"], "betas": tuple(state["meta"]["train_config"]["betas"])}
            )
        except (KeyError, TypeError):
            saved = None
        if saved is None or any(key not in state for key in resumable):
            raise InputError(last_path, "not a resumable last.pt (no training state); remove the run folder")
        # the resumed run keeps its own config; only the epoch cap may be raised
        config = replace(saved, max_epochs=max(saved.max_epochs, config.max_epochs))
        if is_main:
            # a kill -9 while a checkpoint was written leaves its temporary file behind
            fileio.remove_stale_temp_files(run_dir, RUN_FILES)
            sync_history(run_dir, state["history"])
        if state.get("finished") and config.max_epochs <= state["epoch"]:
            return FitResult(
                run_dir,
                state["epoch"],
                state["best_epoch"],
                state["best_val_pck"],
                "already finished",
                resumed_from=state["epoch"],
                history=state["history"],
            )
        if state["meta"].get("data_fingerprint") != ds.fingerprint():
            raise InputError(data_dir, f"differs from the data {run_dir} was trained on; cannot resume")

    torch.manual_seed(config.seed)
    model = create_model(config.model, **config.model_options).to(dev)
    if config.init_from and state is None:
        load_weights_into(model, config.init_from, config.model)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=config.betas)
    micro_batch = micro_batch_for(model, config.batch_size, dev, config.micro_batch_size)
    plateau = PlateauState(lr=config.lr)
    history: list[dict] = []
    best_epoch, best_val_pck, start_epoch = 0, -1.0, 0
    if state is not None:
        model.load_state_dict(state["state_dict"])
        optimizer.load_state_dict(state["optimizer"])
        plateau = PlateauState(**state["plateau"])
        history, best_epoch, best_val_pck = state["history"], state["best_epoch"], state["best_val_pck"]
        start_epoch = state["epoch"]
        rng = {"cpu": state["rng_cpu"], **({"cuda": state["rng_cuda"]} if "rng_cuda" in state else {})}
        if len(state.get("rng_ranks", [])) == world_size:
            rng = state["rng_ranks"][rank]  # each rank's own dropout stream (same world size only)
        torch.set_rng_state(rng["cpu"])
        if dev.type == "cuda" and "cuda" in rng:
            torch.cuda.set_rng_state(rng["cuda"], dev)

    windows = TrainWindows(
        ds,
        exp,
        seed=config.seed,
        batch_size=config.batch_size,
        limit=config.limit,
        fixed_noise=config.fixed_noise,
        device=dev,
        rank=rank,
        world_size=world_size,
        noise=noise,
    )
    val_inputs = eval_inputs(ds, exp, "val", limit=config.limit, noise=noise)
    if windows.n == 0 or len(val_inputs) == 0:
        raise InputError(data_dir, f"no training or validation windows at step {exp.step}; prepare more data")
    if len(windows) == 0:  # under DDP: fewer batches than processes (a distributed drop-last)
        raise InputError(
            data_dir,
            f"{windows.n} training windows make {-(-windows.n // config.batch_size)} batches of "
            f"{config.batch_size}, fewer than the {world_size} processes: every process would get 0 "
            "batches; use fewer processes, a smaller --batch-size or more data",
        )
    train_model = torch.nn.parallel.DistributedDataParallel(model) if distributed else model

    meta = {
        "model": config.model,
        "model_options": config.model_options,
        "shift": exp.shift,
        "experiment": exp.experiment,
        "seed": config.seed,
        "data_fingerprint": ds.fingerprint(),
        # joints present somewhere in the training data: `denoise` leaves every other joint as it was
        "trained_joints": [int(j) for j in ds.present.any(axis=0).nonzero()[0]],
        "train_config": asdict(config),
    }
    if is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        fileio.write_json(
            run.config,
            {
                **meta,
                "train_windows": windows.n,
                "val_windows": len(val_inputs),
                "micro_batch": micro_batch,
                "device": str(dev),
                "world_size": world_size,
            },
        )
    if emit:
        emit(
            {
                "event": "start",
                "run_dir": str(run_dir),
                "train_windows": windows.n,
                "val_windows": len(val_inputs),
                "batches": len(windows),
                "batch_size": config.batch_size,
                "micro_batch": micro_batch,
                "device": str(dev),
                "resumed_from": start_epoch,
            }
        )

    stopped = "max epochs"
    epoch = start_epoch
    while True:
        if should_stop(plateau, epoch, config.stop_patience, config.max_epochs):
            stopped = "max epochs" if epoch >= config.max_epochs else "no validation improvement"
            break
        if _stop_after_epochs is not None and epoch - start_epoch >= _stop_after_epochs:
            stopped = "interrupted"
            break
        epoch += 1
        for group in optimizer.param_groups:
            group["lr"] = plateau.lr
        t0 = time.perf_counter()
        if emit:
            emit({"event": "epoch_start", "epoch": epoch, "batches": len(windows), "lr": plateau.lr})
        train_loss = train_one_epoch(
            train_model, optimizer, windows, epoch, config.precision, emit, micro_batch, config.warmup_steps
        )
        val_loss, val_pck = evaluate(
            model, val_inputs, dev, config.eval_batch_size, config.precision, rank=rank, world_size=world_size
        )
        lr_used = plateau.lr
        plateau, reduced = plateau_step(plateau, val_loss, config.lr_patience, config.lr_factor)
        row = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": val_loss,
            "val_pck": val_pck,
            "lr": lr_used,
            "lr_reduced": int(reduced),
            "seconds": round(time.perf_counter() - t0, 3),
        }
        history.append(row)
        improved = val_pck > best_val_pck
        if improved:
            best_epoch, best_val_pck = epoch, val_pck
        finished = should_stop(plateau, epoch, config.stop_patience, config.max_epochs)
        # the global RNG (dropout) of every rank: ranks draw differently (different batch sizes), and a
        # resumed run must give each its own state back
        rng = {"cpu": torch.get_rng_state()}
        if dev.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(dev)
        rng_ranks = [rng]
        if distributed:
            rng_ranks = [None] * world_size
            dist.all_gather_object(rng_ranks, rng)
        if is_main:
            if improved:
                save_checkpoint(best_path, model, {**meta, "epoch": epoch, "val_pck": val_pck})
            extra = {
                "optimizer": optimizer.state_dict(),
                "plateau": asdict(plateau),
                "history": history,
                "epoch": epoch,
                "best_epoch": best_epoch,
                "best_val_pck": best_val_pck,
                "finished": finished,
                "rng_cpu": rng["cpu"],
                "rng_ranks": rng_ranks,
            }
            if dev.type == "cuda":
                extra["rng_cuda"] = rng["cuda"]
            save_checkpoint(last_path, model, {**meta, "epoch": epoch, "val_pck": val_pck}, **extra)
            fileio.write_text(run.history, _history_csv(history))
        if emit:
            emit({"event": "epoch_end", **row, "best_epoch": best_epoch})
    if distributed:
        dist.barrier()
    return FitResult(
        run_dir, epoch, best_epoch, best_val_pck, stopped, resumed_from=start_epoch, history=history
    )


def grid_configs(
    template: TrainConfig, models=TRAINABLE_MODELS, experiments=ALL_EXPERIMENTS
) -> Iterator[TrainConfig]:
    """The 24 runs (4 models x 2 shifts x 3 experiments) built from one template config."""
    for model in models:
        for exp in experiments:
            yield replace(template, model=model, shift=exp.shift, experiment=exp.experiment)


def run_status(runs_dir: str | Path, config: TrainConfig) -> str:
    """'finished', 'unfinished' or 'missing' for the run `config` names."""
    last = Run.trained(runs_dir, config.model, config.exp, config.noise_profile()).last
    if not last.exists():
        return "missing"
    try:
        state = read_checkpoint(last)
    except InputError:
        return "unfinished"
    return "finished" if state.get("finished") else "unfinished"


def fit_grid(
    template: TrainConfig,
    data_dir: str | Path = "data/prepared",
    runs_dir: str | Path = "runs",
    device: str = "auto",
    models=TRAINABLE_MODELS,
    callback: Callback | None = None,
) -> list[FitResult]:
    """Train every run of the grid, skipping finished runs and resuming unfinished ones."""
    results = []
    configs = list(grid_configs(template, models))
    for i, config in enumerate(configs):
        status = run_status(runs_dir, config)
        if callback is not None:
            callback(
                {
                    "event": "grid_run",
                    "index": i + 1,
                    "total": len(configs),
                    "model": config.model,
                    "name": config.exp.name,
                    "status": status,
                }
            )
        if status == "finished":
            run = Run.trained(runs_dir, config.model, config.exp, config.noise_profile())
            if _distributed()[0] == 0:  # rank 0 writes the run
                sync_history(run.dir, read_checkpoint(run.last)["history"])
            continue
        results.append(
            fit(config, data_dir, runs_dir, device, resume=status == "unfinished", callback=callback)
        )
    return results
