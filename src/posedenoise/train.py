"""Training (chapter 1.2.3), torchvision-reference style.

`fit(config)` runs one of the 24 runs into its folder (`runs.Run`: `runs/<model>/<k>.<y>/`, with the noise
profile's suffix): `config.json`, `history.csv`, `best.pt` (highest validation PCK@0.2) and `last.pt`
(everything needed to resume). It reads setup -> resume -> `for epoch: train_one_epoch; evaluate; save`;
the device and process setup is `runtime.setup`. The schedule is two pure functions (`plateau_step`,
`should_stop`); progress goes through a callback so the CLI decides how to show it. Under `torchrun` the
same code trains with DDP and rank 0 writes the run.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from posedenoise import checks, fileio, runtime
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


@dataclass
class TrainingState:
    """Where a run stands after `epoch` epochs: the schedule, the history and the best epoch so far."""

    plateau: PlateauState
    epoch: int = 0
    best_epoch: int = 0
    best_val_pck: float = -1.0
    history: list[dict] = field(default_factory=list)
    finished: bool = False  # the schedule says stop

    @classmethod
    def from_checkpoint(cls, state: dict) -> TrainingState:
        return cls(
            PlateauState(**state["plateau"]), state["epoch"], state["best_epoch"], state["best_val_pck"],
            state["history"], bool(state.get("finished")),
        )  # fmt: skip

    def end_epoch(self, row: dict, config: TrainConfig) -> bool:
        """Record an epoch's history `row` (without its lr columns, filled in here); returns whether it
        is the best epoch so far (highest validation PCK@0.2)."""
        lr_used = self.plateau.lr
        self.plateau, reduced = plateau_step(
            self.plateau, row["val_loss"], config.lr_patience, config.lr_factor
        )
        row = {key: row.get(key) for key in HISTORY_COLUMNS} | {"lr": lr_used, "lr_reduced": int(reduced)}
        self.history.append(row)
        self.epoch = row["epoch"]
        improved = row["val_pck"] > self.best_val_pck
        if improved:
            self.best_epoch, self.best_val_pck = self.epoch, row["val_pck"]
        self.finished = should_stop(self.plateau, self.epoch, config.stop_patience, config.max_epochs)
        return improved

    def checkpoint_entries(self) -> dict[str, Any]:
        """What last.pt holds of the schedule (besides weights, optimizer and RNG states)."""
        return {
            "plateau": asdict(self.plateau),
            "history": self.history,
            "epoch": self.epoch,
            "best_epoch": self.best_epoch,
            "best_val_pck": self.best_val_pck,
            "finished": self.finished,
        }

    def result(self, run: Run, stopped: str, resumed_from: int) -> FitResult:
        return FitResult(
            run.dir, self.epoch, self.best_epoch, self.best_val_pck, stopped, resumed_from, self.history
        )


RESUMABLE = ("optimizer", "plateau", "history", "epoch", "best_epoch", "best_val_pck", "rng_cpu")


def _resumed(run: Run, config: TrainConfig, ds: PreparedDataset, data_dir, resume: bool, is_main: bool):
    """The saved config (its epoch cap raised to `config`'s) and last.pt of the run to continue; refused
    without `resume`, from a last.pt that cannot resume, or on other data than it was trained on."""
    if not resume:
        raise PoseDenoiseError(f"{run.dir}: a run already exists; pass --resume to continue it or remove it")
    state = read_checkpoint(run.last)
    try:
        saved = state["meta"]["train_config"]
        saved = TrainConfig(**{**saved, "betas": tuple(saved["betas"])})
    except (KeyError, TypeError):
        saved = None
    if saved is None or any(key not in state for key in RESUMABLE):
        raise InputError(run.last, "not a resumable last.pt (no training state); remove the run folder")
    # the resumed run keeps its own config; only the epoch cap may be raised
    config = replace(saved, max_epochs=max(saved.max_epochs, config.max_epochs))
    if is_main:
        # a kill -9 while a checkpoint was written leaves its temporary file behind
        fileio.remove_stale_temp_files(run.dir, RUN_FILES)
        sync_history(run.dir, state["history"])
    done = state.get("finished") and config.max_epochs <= state["epoch"]
    if not done and state["meta"].get("data_fingerprint") != ds.fingerprint():
        raise InputError(data_dir, f"differs from the data {run.dir} was trained on; cannot resume")
    return config, state


def _restore(state: dict, model: torch.nn.Module, optimizer, rt: runtime.Runtime) -> TrainingState:
    """Weights, optimizer, schedule and this rank's global RNG (dropout) from last.pt."""
    model.load_state_dict(state["state_dict"])
    optimizer.load_state_dict(state["optimizer"])
    rng = {"cpu": state["rng_cpu"], **({"cuda": state["rng_cuda"]} if "rng_cuda" in state else {})}
    if len(state.get("rng_ranks", [])) == rt.world_size:
        rng = state["rng_ranks"][rt.rank]  # each rank's own dropout stream (same world size only)
    rt.set_rng_state(rng)
    return TrainingState.from_checkpoint(state)


def _check_batches(windows: TrainWindows, val_inputs: EvalInputs, data_dir, batch_size: int) -> None:
    if windows.n == 0 or len(val_inputs) == 0:
        step = windows.experiment.step
        raise InputError(data_dir, f"no training or validation windows at step {step}; prepare more data")
    if len(windows) == 0:  # under DDP: fewer batches than processes (a distributed drop-last)
        raise InputError(
            data_dir,
            f"{windows.n} training windows make {-(-windows.n // batch_size)} batches of "
            f"{batch_size}, fewer than the {windows.world_size} processes: every process would get 0 "
            "batches; use fewer processes, a smaller --batch-size or more data",
        )


def _run_meta(config: TrainConfig, ds: PreparedDataset) -> dict[str, Any]:
    """What every checkpoint of the run records besides its epoch."""
    return {
        "model": config.model,
        "model_options": config.model_options,
        "shift": config.shift,
        "experiment": config.experiment,
        "seed": config.seed,
        "data_fingerprint": ds.fingerprint(),
        # joints present somewhere in the training data: `denoise` leaves every other joint as it was
        "trained_joints": [int(j) for j in ds.present.any(axis=0).nonzero()[0]],
        "train_config": asdict(config),
    }


def _save(run: Run, model, optimizer, progress: TrainingState, meta: dict, improved: bool, rt) -> None:
    """best.pt (when `improved`), last.pt and history.csv after an epoch; rank 0 writes, every rank
    gives its RNG state (ranks draw differently: different batch sizes)."""
    rng, rng_ranks = rt.rng_state(), rt.rng_states()
    if not rt.is_main:
        return
    epoch_meta = {**meta, "epoch": progress.epoch, "val_pck": progress.history[-1]["val_pck"]}
    if improved:
        save_checkpoint(run.best, model, epoch_meta)
    entries = progress.checkpoint_entries()
    extra = {"optimizer": optimizer.state_dict(), **entries, "rng_cpu": rng["cpu"], "rng_ranks": rng_ranks}
    if "cuda" in rng:
        extra["rng_cuda"] = rng["cuda"]
    save_checkpoint(run.last, model, epoch_meta, **extra)
    fileio.write_text(run.history, _history_csv(progress.history))


def fit(
    config: TrainConfig,
    data_dir: str | Path = "data/prepared",
    runs_dir: str | Path = "runs",
    device: str = "auto",
    resume: bool = False,
    callback: Callback | None = None,
) -> FitResult:
    """Train one run. With `resume`, continue from `last.pt` and end exactly where an uninterrupted run
    with the same seed ends (noise and order are seeded per epoch, RNG states are checkpointed).
    `callback` gets the events "start", "batch" and "epoch_end" (rank 0 only)."""
    config.validate()
    noise = config.noise_profile()
    rt = runtime.setup(device)
    emit = callback if callback is not None and rt.is_main else _ignore
    ds = PreparedDataset.load(data_dir)
    run = Run.trained(runs_dir, config.model, config.exp, noise)
    saved = None
    if run.last.exists():
        config, saved = _resumed(run, config, ds, data_dir, resume, rt.is_main)
        if saved.get("finished") and config.max_epochs <= saved["epoch"]:
            return TrainingState.from_checkpoint(saved).result(run, "already finished", saved["epoch"])

    torch.manual_seed(config.seed)
    model_without_ddp = create_model(config.model, **config.model_options).to(rt.device)
    if config.init_from and saved is None:
        load_weights_into(model_without_ddp, config.init_from, config.model)
    optimizer = torch.optim.Adam(model_without_ddp.parameters(), lr=config.lr, betas=config.betas)
    micro_batch = micro_batch_for(model_without_ddp, config.batch_size, rt.device, config.micro_batch_size)
    progress = TrainingState(PlateauState(lr=config.lr))
    if saved is not None:
        progress = _restore(saved, model_without_ddp, optimizer, rt)
    start_epoch = progress.epoch

    shard = {"device": rt.device, "rank": rt.rank, "world_size": rt.world_size}
    windows = TrainWindows(ds, config.exp, seed=config.seed, batch_size=config.batch_size, limit=config.limit,
                           fixed_noise=config.fixed_noise, noise=noise, **shard)  # fmt: skip
    val_inputs = eval_inputs(ds, config.exp, "val", limit=config.limit, noise=noise)
    _check_batches(windows, val_inputs, data_dir, config.batch_size)
    model = rt.parallel(model_without_ddp)

    meta = _run_meta(config, ds)
    sizes = {"train_windows": windows.n, "val_windows": len(val_inputs), "micro_batch": micro_batch}
    if rt.is_main:
        run.dir.mkdir(parents=True, exist_ok=True)
        fileio.write_json(run.config, {**meta, **sizes, **rt.describe()})
    emit({"event": "start", "run_dir": str(run.dir), **sizes, "batches": len(windows),
          "batch_size": config.batch_size, "resumed_from": start_epoch, **rt.describe()})  # fmt: skip

    while not should_stop(progress.plateau, progress.epoch, config.stop_patience, config.max_epochs):
        epoch = progress.epoch + 1
        for group in optimizer.param_groups:
            group["lr"] = progress.plateau.lr
        t0 = time.perf_counter()
        train_loss = train_one_epoch(
            model, optimizer, windows, epoch, config.precision, emit, micro_batch, config.warmup_steps
        )
        val_loss, val_pck = evaluate(model_without_ddp, val_inputs, rt.device, config.eval_batch_size,
                                     config.precision, rank=rt.rank, world_size=rt.world_size)  # fmt: skip
        seconds = round(time.perf_counter() - t0, 3)
        row = dict(epoch=epoch, train_loss=train_loss, val_loss=val_loss, val_pck=val_pck, seconds=seconds)
        improved = progress.end_epoch(row, config)
        _save(run, model_without_ddp, optimizer, progress, meta, improved, rt)
        emit({"event": "epoch_end", **progress.history[-1], "best_epoch": progress.best_epoch})
    rt.barrier()
    stopped = "max epochs" if progress.epoch >= config.max_epochs else "no validation improvement"
    return progress.result(run, stopped, start_epoch)


def _ignore(event: dict[str, Any]) -> None:
    """The callback of a run nobody watches (and of every rank but 0)."""


def grid_configs(
    template: TrainConfig, models=TRAINABLE_MODELS, experiments=ALL_EXPERIMENTS
) -> Iterator[TrainConfig]:
    """The 24 runs (4 models x 2 shifts x 3 experiments) built from one template config."""
    for model in models:
        for exp in experiments:
            yield replace(template, model=model, shift=exp.shift, experiment=exp.number)


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
            if runtime.distributed_env()[0] == 0:  # rank 0 writes the run
                sync_history(run.dir, read_checkpoint(run.last)["history"])
            continue
        results.append(
            fit(config, data_dir, runs_dir, device, resume=status == "unfinished", callback=callback)
        )
    return results
