"""The `posedenoise` command line: parse arguments, make one call into the library, print.

This is the only module that imports typer or rich. Every user-caused error arrives here as a
`PoseDenoiseError` and leaves as one line on stderr with exit code 1, without a traceback.
"""

from __future__ import annotations

import math
import os
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from posedenoise.errors import PoseDenoiseError
from posedenoise.filter_options import (
    DEFAULT_JUMP,
    DEFAULT_MAX_GAP,
    DEFAULT_MIN_SCORE,
    FILTER_PARAMS,
    FILTERS,
    PRESETS,
    REJECT_PARAMS,
    REJECTS,
    help_defaults,
    help_presets,
    param_keys,
)

app = typer.Typer(
    name="posedenoise",
    help="Temporal denoising of 2D human pose: prepare data, train, evaluate, report, denoise.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

DataOpt = Annotated[Path, typer.Option("--data", help="Prepared dataset folder.")]
RunsOpt = Annotated[Path, typer.Option("--runs", help="Folder of training runs.")]


# ----------------------------------------------------------------------------- progress display


class ProgressView:
    """Shows library progress callbacks: a rich bar with ETA on a terminal, plain lines otherwise."""

    def __init__(self, description: str = ""):
        self.live = err.is_terminal
        self.description = description
        self.progress: Progress | None = None
        self.task = None
        self._last_line = time.monotonic()  # plain lines: every 10 s and at the end, not at once

    def __enter__(self) -> ProgressView:
        if self.live:
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=err,
                transient=False,
            )
            self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)

    def update(self, description: str, done: int, total: int | None, info: str = "") -> None:
        if self.progress is not None:
            if self.task is None or self.progress.tasks[self.task].description != description:
                self.task = self.progress.add_task(description, total=total, info=info)
            self.progress.update(self.task, completed=done, total=total, info=info)
        else:
            now = time.monotonic()
            if done == total or now - self._last_line > 10:
                self._last_line = now
                tot = f"/{total}" if total else ""
                err.print(f"{description}: {done}{tot} {info}".rstrip())

    def stage(self, stage: str, done: int, total: int | None) -> None:
        self.update(f"{self.description} {stage}".strip(), done, total)

    def fraction(self, done: int, total: int) -> None:
        self.update(self.description, done, total)

    def train_event(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind == "grid_run":
            verb = {"finished": "skip (finished)", "unfinished": "resume", "missing": "train"}[
                event["status"]
            ]
            err.print(f"[{event['index']}/{event['total']}] {event['model']} {event['name']}: {verb}")
        elif kind == "start":
            resumed = f", resuming after epoch {event['resumed_from']}" if event["resumed_from"] else ""
            micro = event.get("micro_batch")
            parts = f" (in micro-batches of {micro})" if micro and micro < event.get("batch_size", 0) else ""
            err.print(
                f"{event['run_dir']}: {event['train_windows']} train / {event['val_windows']} val windows, "
                f"{event['batches']} batches per epoch{parts} on {event['device']}{resumed}"
            )
        elif kind == "batch":
            self.update(
                f"epoch {event['epoch']}", event["batch"], event["batches"], f"loss {event['loss']:.4g}"
            )
        elif kind == "tracks_start":
            resumed = f", resuming after step {event['resumed_from']}" if event["resumed_from"] else ""
            err.print(f"{event['run_dir']}: {event['crops']} synthetic track crops{resumed}")
        elif kind == "tracks_batch":
            self.update("train", event["step"], event["steps"], f"loss {event['loss']:.4g}")
        elif kind == "tracks_val":
            scores = ", ".join(f"{k} {100 * v:.1f}%" for k, v in event["val"].items())
            line = f"step {event['step']}: train loss {event['train_loss']:.4g}, validation {scores}"
            (self.progress.console.print if self.progress is not None else err.print)(line)
        elif kind == "epoch_end":
            mark = " (lr reduced)" if event["lr_reduced"] else ""
            e = event
            line = (
                f"epoch {e['epoch']}: train loss {e['train_loss']:.4g}, val loss {e['val_loss']:.4g}, "
                f"val PCK@0.2 {100 * e['val_pck']:.1f}%, lr {e['lr']:.0e}, {e['seconds']:.1f}s{mark}"
            )
            if self.progress is not None:
                self.progress.console.print(line)
            else:
                err.print(line)


# ----------------------------------------------------------------------------- commands


def _show_version(value: bool) -> None:
    if value:
        from posedenoise import __version__

        out.print(f"posedenoise {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Show the version and exit."),
    ] = False,
) -> None:
    """Temporal denoising of 2D human pose: prepare data, train, evaluate, report, denoise."""


def _compute_setup() -> None:
    """Process-wide settings for the commands that run models (imported here, not at start-up, so that
    `--help` and bad options answer without loading PyTorch)."""
    from posedenoise.runtime import tune_cpu

    tune_cpu()


class SplitBy(str, Enum):
    window = "window"
    video = "video"


def _names_a_model(path: Path) -> bool:
    """A checkpoint file, a run folder (best.pt inside), a shipped model or a registered model's name."""
    from posedenoise.models import list_models
    from posedenoise.shipped import shipped_path

    if path.exists():
        return path.suffix == ".pt" or (path.is_dir() and (path / "best.pt").exists())
    return shipped_path(path) is not None or str(path) in list_models() or path.suffix == ".pt"


@app.command()
def prepare(
    penn_action: Annotated[Path | None, typer.Option(help="Penn_Action folder (labels/NNNN.mat).")] = None,
    brace: Annotated[
        Path | None, typer.Option(help="BRACE folder holding dataset/ (and manual_keypoints/).")
    ] = None,
    custom: Annotated[
        list[Path] | None,
        typer.Option(
            help="Your own tracks (repeatable): a long-format CSV/Parquet table, pose files as `denoise` "
            "reads them (COCO/PoseTrack JSON, mmpose JSON, .npy/.npz), or a folder of them."
        ),
    ] = None,
    synthetic: Annotated[
        bool, typer.Option("--synthetic", help="Use the built-in synthetic people.")
    ] = False,
    synthetic_videos: Annotated[int, typer.Option(help="Synthetic videos to generate.")] = 240,
    full_scale: Annotated[
        bool, typer.Option(help="Synthetic at the chapter's scale (345,120 windows).")
    ] = False,
    raw: Annotated[
        Path, typer.Option(help="Where real datasets are looked for when no source is given.")
    ] = Path("data/raw"),
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("data/prepared"),
    seed: Annotated[
        int, typer.Option(help="Seed of the split, the synthetic data and evaluation noise.")
    ] = 0,
    margin: Annotated[float, typer.Option(help="Box growth per side, as a fraction of the side.")] = 0.1,
    split_by: Annotated[
        SplitBy, typer.Option(help="window: the chapter's split; video: no video in two subsets.")
    ] = (SplitBy.window),
) -> None:
    """Prepare pose tracks for training: crop to the 56 x 56 grid, window, split, and save."""
    from posedenoise import checks
    from posedenoise.prepare import MAX_MARGIN, check_output_folder, plan_sources, prepare_dataset

    # refused before anything is read (prepare_dataset checks them again for library callers)
    checks.number("--margin", margin, 0.0, MAX_MARGIN)
    checks.seed("--seed", seed)
    check_output_folder(out_dir)

    plan = plan_sources(
        penn_action=penn_action,
        brace=brace,
        custom=custom,
        synthetic=synthetic,
        synthetic_videos=synthetic_videos,
        full_scale=full_scale,
        raw_root=raw,
        seed=seed,
    )
    with ProgressView("prepare") as view:
        summary = prepare_dataset(
            plan.tracks,
            out_dir,
            seed=seed,
            margin=margin,
            split_by=split_by.value,
            sources=plan.names,
            total_tracks=plan.total,
            progress=view.stage,
        )
    err.print(f"sources: {plan.description}")
    table = Table(title=f"windows in {summary.out}", show_edge=False)
    table.add_column("step")
    for name in ("train", "val", "test", "total"):
        table.add_column(name, justify="right")
    for step, counts in summary.windows.items():
        table.add_row(
            step, *(f"{counts[s]:,}" for s in ("train", "val", "test")), f"{sum(counts.values()):,}"
        )
    out.print(table)
    skipped = ", ".join(f"{n:,} ({reason})" for reason, n in summary.skipped.items() if n) or "none"
    out.print(
        f"{summary.videos:,} videos, {summary.frames:,} frames kept; skipped frames: {skipped}; "
        f"mean torso diameter {summary.torso_mean_px:.1f} px; {summary.bytes_on_disk / 1e6:.1f} MB"
    )
    for note in summary.notes:
        out.print(f"note: {note}", markup=False)
    for warning in summary.warnings:
        err.print(f"warning: {warning}", markup=False)


def _check_common(limit: int | None = None, batch_size: int | None = None) -> None:
    """Options several commands share: refused when out of range, never adjusted."""
    from posedenoise import checks

    if limit is not None:
        checks.whole("--limit", limit, 1)
    if batch_size is not None:
        checks.whole("--batch-size", batch_size, 1)


def _noise_options(pairs: list[str] | None) -> dict:
    options = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise PoseDenoiseError(f"--noise-option expects KEY=VALUE, got {pair!r}")
        try:
            options[key.strip()] = float(value)
        except ValueError:
            raise PoseDenoiseError(f"--noise-option {key}: {value!r} is not a number") from None
        if not math.isfinite(options[key.strip()]):
            raise PoseDenoiseError(f"--noise-option {key}: {value!r} is not a finite number")
    return options


def _model_options(model: str, pairs: list[str] | None) -> dict:
    from posedenoise.models import parse_model_options

    raw = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise PoseDenoiseError(f"--model-option expects KEY=VALUE, got {pair!r}")
        raw[key.strip()] = value
    return parse_model_options(model, raw)


class Precision(str, Enum):
    fp32 = "fp32"
    bf16 = "bf16"


@app.command()
def train(
    model: Annotated[
        str | None,
        typer.Option(
            help="Architecture to train: conv3d, deciwatch, convlstm-s, convlstm-c (the study), or "
            "posetcn (the real-track model; trains on synthetic whole tracks, see --steps)."
        ),
    ] = None,
    shift: Annotated[int, typer.Option(help="Shifting scalar k (noise std 3k px): 1 or 2.")] = 1,
    experiment: Annotated[
        int, typer.Option(help="1: random sigma_in, 2: sigma_in=1, 3: half frame rate.")
    ] = 1,
    all_runs: Annotated[
        bool, typer.Option("--all", help="Train the whole 24-run grid (skips finished runs).")
    ] = False,
    max_epochs: Annotated[int, typer.Option(help="Hard cap on epochs.")] = 50,
    limit: Annotated[int | None, typer.Option(help="Cap windows per split (quick runs).")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    precision: Annotated[Precision, typer.Option(help="fp32, or bf16 autocast.")] = Precision.fp32,
    seed: Annotated[int, typer.Option(help="Init, order and training-noise seed.")] = 0,
    batch_size: Annotated[int, typer.Option(help="Windows per batch (per process under torchrun).")] = 16,
    micro_batch: Annotated[
        int,
        typer.Option(
            help="Windows per forward/backward, gradients summed to the batch (0: auto, 2 for "
            "the bi-ConvLSTMs on CPU)."
        ),
    ] = 0,
    lr: Annotated[
        float | None, typer.Option(help="Initial learning rate (default: 1e-3, posetcn 2e-3).")
    ] = None,
    warmup_steps: Annotated[
        int, typer.Option(help="Linear learning-rate warm-up over the first N steps (0: none, the chapter).")
    ] = 0,
    fixed_noise: Annotated[
        bool, typer.Option(help="One noise draw per training window, as the chapter.")
    ] = False,
    noise: Annotated[
        str,
        typer.Option(
            help="Detector-noise profile: chapter (Tables 1-4), realistic, or any other registered one."
        ),
    ] = "chapter",
    noise_option: Annotated[
        list[str] | None, typer.Option(help="Realistic-noise rate override KEY=VALUE (repeatable).")
    ] = None,
    model_option: Annotated[
        list[str] | None,
        typer.Option(
            help="Model option KEY=VALUE (repeatable), e.g. zero_init=true for deciwatch; recorded in "
            "the run's config (README: Model options)."
        ),
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue an unfinished run from its last.pt.")] = False,
    init_from: Annotated[
        Path | None, typer.Option(help="Checkpoint (or shipped model name) to fine-tune from.")
    ] = None,
    steps: Annotated[int, typer.Option(help="posetcn: optimizer steps.")] = 2500,
    videos: Annotated[int, typer.Option(help="posetcn: synthetic training videos.")] = 2000,
    accel_weight: Annotated[
        float, typer.Option(help="posetcn: weight of the acceleration loss (smoothness against the truth).")
    ] = 0.0,
    data: DataOpt = Path("data/prepared"),
    runs: RunsOpt = Path("runs"),
) -> None:
    """Train one run (runs/<model>/<k>.<y>/), or the whole grid with --all.

    `--model posetcn` trains the real-track model instead, into runs/posetcn/ (no prepared data needed).
    """
    _compute_setup()
    from posedenoise.models import model_input

    if model is not None and model_input(model) == "tracks":
        from posedenoise.tracktrain import TrackTrainConfig, fit_tracks

        config = TrackTrainConfig(
            model=model, model_options=_model_options(model, model_option), steps=steps, videos=videos,
            seed=seed, init_from=str(init_from) if init_from else None, accel_weight=accel_weight,
            **({"lr": lr} if lr is not None else {}),
        )  # fmt: skip
        with ProgressView() as view:
            result = fit_tracks(config, Path(runs) / model, resume=resume, callback=view.train_event)
        scores = ", ".join(f"{k} {100 * v:.1f}%" for k, v in result.val.items())
        out.print(
            f"{result.run_dir}: {result.steps} steps in {result.seconds / 60:.1f} min; validation {scores}"
        )
        return
    from posedenoise.train import TrainConfig, fit, fit_grid

    if model_option and model is None:
        raise PoseDenoiseError("--model-option needs --model (options differ between models)")
    template = TrainConfig(
        model=model or "conv3d",
        model_options=_model_options(model, model_option) if model else {},
        shift=shift,
        experiment=experiment,
        max_epochs=max_epochs,
        limit=limit,
        precision=precision.value,
        seed=seed,
        batch_size=batch_size,
        micro_batch_size=micro_batch,
        **({"lr": lr} if lr is not None else {}),
        warmup_steps=warmup_steps,
        fixed_noise=fixed_noise,
        init_from=str(init_from) if init_from else None,
        noise=noise,
        noise_options=_noise_options(noise_option),
    )
    if model is None and not all_runs:
        raise PoseDenoiseError("give --model (conv3d, deciwatch, convlstm-s, convlstm-c) or --all")
    try:
        with ProgressView() as view:
            if all_runs:
                models = (model,) if model else None
                results = fit_grid(
                    template,
                    data,
                    runs,
                    device,
                    **({"models": models} if models else {}),
                    callback=view.train_event,
                )
            else:
                results = [fit(template, data, runs, device, resume=resume, callback=view.train_event)]
    except KeyboardInterrupt:
        raise Interrupted(_resume_hint(template, all_runs, data, runs)) from None
    if int(os.environ.get("RANK", 0)) != 0:  # under torchrun only rank 0 reports
        return
    for r in results:
        out.print(
            f"{r.run_dir}: {r.epochs} epochs ({r.stopped}), best epoch {r.best_epoch} "
            f"with val PCK@0.2 {100 * r.best_val_pck:.1f}%"
        )


def _resume_hint(config, all_runs: bool, data: Path, runs: Path) -> str:
    """What to run to continue training stopped by Ctrl-C (each finished epoch is in last.pt)."""
    import shlex

    from posedenoise.runs import Run

    if all_runs:
        return (
            "interrupted; run the same command again to continue: finished runs are skipped and the "
            "interrupted one resumes from its last finished epoch"
        )
    run = Run.trained(runs, config.model, config.exp, config.noise_profile())
    if not run.last.is_file():
        return f"interrupted before the first epoch of {run.dir} ended; nothing was saved"
    command = ["posedenoise", "train", "--model", config.model, "--shift", str(config.shift)]
    command += ["--experiment", str(config.experiment), "--data", str(data), "--runs", str(runs)]
    if config.noise != "chapter":
        command += ["--noise", config.noise]
    return (
        f"interrupted; {run.last} holds the last finished epoch: continue with "
        f"`{shlex.join(command)} --resume`"
    )


@app.command()
def models() -> None:
    """List the registered architectures, and the trained models that ship with posedenoise."""
    from posedenoise.models import model_summaries
    from posedenoise.shipped import shipped_models

    table = Table(show_edge=False, title="architectures")
    for col in ("name", "model", "output", "parameters"):
        table.add_column(col, justify="right" if col == "parameters" else "left")
    for s in model_summaries():
        table.add_row(s.name, s.display_name, s.output_kind, f"{s.num_params:,}")
    out.print(table)
    shipped = shipped_models()
    if not shipped:
        out.print("no trained models ship with this installation")
        return
    table = Table(show_edge=False, title="trained models (use the name wherever a checkpoint is accepted)")
    for col in ("name", "architecture", "card"):
        table.add_column(col)
    for m in shipped:
        table.add_row(m.name, m.model, m.summary)
    out.print(table)


@app.command()
def evaluate(
    target: Annotated[
        str,
        typer.Argument(
            help="A run folder, a checkpoint, or a baseline: identity, oneeuro, savgol, gaussian."
        ),
    ],
    shift: Annotated[int | None, typer.Option(help="k of a baseline evaluation.")] = None,
    experiment: Annotated[int | None, typer.Option(help="y of a baseline evaluation.")] = None,
    split: Annotated[str, typer.Option(help="train, val or test.")] = "test",
    output: Annotated[Path | None, typer.Option(help="Also write the evaluation JSON here.")] = None,
    limit: Annotated[int | None, typer.Option(help="Cap the number of windows.")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    batch_size: Annotated[int, typer.Option(help="Windows per batch.")] = 64,
    force: Annotated[bool, typer.Option(help="Re-evaluate even when a fresh cached result exists.")] = False,
    noise: Annotated[
        str, typer.Option(help="Baselines: detector-noise profile (chapter, realistic, ...).")
    ] = "chapter",
    noise_option: Annotated[
        list[str] | None, typer.Option(help="Baselines: realistic rate KEY=VALUE.")
    ] = None,
    track_videos: Annotated[
        int, typer.Option(help="Track models: synthetic test videos (not the prepared data).")
    ] = 200,
    track_seed: Annotated[int, typer.Option(help="Track models: seed of those videos.")] = 12345,
    noise_level: Annotated[
        float, typer.Option(help="Track models: detector shift, x the chapter's k = 1.")
    ] = 1.0,
    data: DataOpt = Path("data/prepared"),
    runs: RunsOpt = Path("runs"),
) -> None:
    """Evaluate a checkpoint (or a baseline) on a split: PCK@0.05/0.1/0.2, per joint group, cached as JSON.

    A real-track model (e.g. the shipped `posetcn`) is scored on whole synthetic tracks with realistic
    detector noise instead, beside the identity and each classic smoother at its best setting.
    """
    _compute_setup()
    from posedenoise import fileio
    from posedenoise.evaluate import BASELINES, cached_baseline, cached_evaluation
    from posedenoise.noise import make_noise
    from posedenoise.runtime import resolve_device

    baseline = target in BASELINES and not Path(target).exists()
    if not baseline:
        options = {"--shift": shift, "--experiment": experiment, "--noise-option": noise_option}
        options["--noise"] = noise if noise != "chapter" else None
        given = [name for name, value in options.items() if value]
        if given:
            raise PoseDenoiseError(
                f"{', '.join(given)}: for baselines only; a checkpoint is evaluated on the experiment "
                "and noise it was trained with"
            )
    _check_common(limit=limit, batch_size=batch_size)
    if output is not None:
        fileio.check_target(output)
    if target not in BASELINES:
        from posedenoise.checkpoint import load_model
        from posedenoise.tracktrain import evaluate_track_model

        model, meta = load_model(target)
        if getattr(model, "input_kind", None) == "tracks":
            rows = evaluate_track_model(model, track_videos, track_seed, noise_level)
            table = Table(
                show_edge=False,
                title=f"{target} on {track_videos} synthetic videos (seed {track_seed}), "
                f"realistic noise at level {noise_level:g}",
            )
            for col in ("method", "PCK@0.05", "PCK@0.1", "PCK@0.2", "swaps repaired"):
                table.add_column(col, justify="left" if col == "method" else "right")
            for r in rows:
                name = r["method"] + (
                    f" ({', '.join(f'{k}={v}' for k, v in r['params'].items())})" if r["params"] else ""
                )
                table.add_row(
                    name, *(f"{100 * r[f'pck@{a}']:.1f}" for a in ("0.05", "0.1", "0.2")),
                    f"{100 * r['swap_repair']:.1f}%",
                )  # fmt: skip
            out.print(table)
            if output is not None:
                fileio.write_json(
                    output, {"model": target, "videos": track_videos, "seed": track_seed,
                             "noise_level": noise_level, "rows": rows},
                )  # fmt: skip
            return

    with ProgressView(f"evaluate {target}") as view:
        if baseline:
            if shift is None or experiment is None:
                raise PoseDenoiseError(f"evaluate {target} needs --shift and --experiment")
            result = cached_baseline(
                target,
                shift,
                experiment,
                runs,
                data,
                split,
                limit=limit,
                progress=view.fraction,
                force=force,
                noise=make_noise(noise, _noise_options(noise_option)),
            )
        else:
            result = cached_evaluation(
                target,
                data,
                split,
                device=str(resolve_device(device)),
                batch_size=batch_size,
                limit=limit,
                progress=view.fraction,
                force=force,
            )
    if output is not None:
        fileio.write_json(output, result)
    pck = result["pck"]
    out.print(
        f"{result['model']} {result['shift']}.{result['experiment']} on {result['split']} "
        f"({result['windows']:,} windows, {result['joints_counted']:,} joints): "
        + ", ".join(f"PCK@{a} {100 * v:.1f}%" for a, v in pck.items() if v is not None)
    )
    if result.get("noise") == "realistic":
        out.print(
            f"realistic noise: {100 * result['swap_repair']:.1f}% of swapped joints repaired, "
            f"error on swapped joints {result['swap_error_px']:.2f} px, "
            f"on missed joints {result['gap_error_px']:.2f} px"
        )


@app.command()
def report(
    latex: Annotated[bool, typer.Option("--latex", help="LaTeX (booktabs) output.")] = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Markdown output.")] = False,
    csv: Annotated[bool, typer.Option("--csv", help="CSV output (tidy, full precision).")] = False,
    output: Annotated[Path | None, typer.Option(help="Write the tables here instead of stdout.")] = None,
    figure: Annotated[
        Path | None, typer.Option(help="Draw Figure 1 (training curves) to this image.")
    ] = None,
    split: Annotated[str, typer.Option(help="Split the tables are computed on.")] = "test",
    limit: Annotated[int | None, typer.Option(help="Cap the windows evaluated per run.")] = None,
    no_evaluate: Annotated[bool, typer.Option(help="Use cached evaluations only; never evaluate.")] = False,
    smoothers: Annotated[
        bool, typer.Option("--smoothers/--no-smoothers", help="Add the classic smoothers as extra rows.")
    ] = True,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    batch_size: Annotated[int, typer.Option(help="Windows per batch.")] = 64,
    data: DataOpt = Path("data/prepared"),
    runs: RunsOpt = Path("runs"),
) -> None:
    """Rebuild the study's Tables 1-4 (and Figure 1) from the saved checkpoints."""
    _compute_setup()
    from posedenoise import fileio
    from posedenoise.report import (
        collect_results,
        draw_figure,
        figure_format,
        missing_note,
        render_tables,
    )
    from posedenoise.runtime import resolve_device

    if not runs.is_dir():
        problem = "is not a folder" if runs.exists() else "no such folder of training runs"
        raise PoseDenoiseError(f"--runs {runs}: {problem}")
    _check_common(limit=limit, batch_size=batch_size)
    for target in (output, figure):
        if target is not None:
            fileio.check_target(target)
    if figure is not None:
        figure_format(figure)
    if sum((latex, markdown, csv)) > 1:
        raise PoseDenoiseError("choose at most one of --latex, --markdown, --csv")
    fmt = "latex" if latex else "markdown" if markdown else "csv" if csv else "text"
    with ProgressView("evaluate") as view:
        results = collect_results(
            runs,
            data,
            split=split,
            evaluate_missing=not no_evaluate,
            device=str(resolve_device(device)),
            batch_size=batch_size,
            limit=limit,
            progress=lambda what, done, total: view.update(f"evaluate {what}", done, total),
            smoothers=smoothers,
        )
    text = render_tables(results, fmt)
    if output is not None:
        fileio.write_text(output, text)
        err.print(f"tables written to {output}")
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    note = missing_note(results)
    if note and output is not None:
        err.print(note, markup=False)
    if figure is not None:
        path = draw_figure(runs, figure, data_dir=data)
        err.print(f"figure written to {path}")


FilterName = Enum("FilterName", {name: name for name in FILTERS}, type=str)
RejectName = Enum("RejectName", {name: name for name in REJECTS}, type=str)


def _looks_swapped(first: Path, second: Path) -> bool:
    """Whether `denoise` got a pose file where the checkpoint goes and a checkpoint after it."""
    pose_file = first.suffix.lower() in (".json", ".csv", ".npy", ".npz")
    return pose_file and (second.suffix.lower() == ".pt" or second.is_dir())


def _param_help(name: str) -> str:
    """Help of a filter parameter: the filters that use it, its meaning, unit and default."""
    users = [f for f, table in FILTER_PARAMS.items() if any(p.name == name for p in table)]
    users += [f"--reject {f}" for f, table in REJECT_PARAMS.items() if any(p.name == name for p in table)]
    p = param_keys()[name]
    unit = f" ({p.unit})" if p.unit else ""
    return f"{', '.join(users)}: {p.help}{unit}. Default: {p.value}."


def _param(name: str, kind: type) -> Any:
    flag = "--" + name.replace("_", "-")
    if kind is bool:
        return Annotated[
            bool | None, typer.Option(f"{flag}/--no-{flag[2:]}", help=_param_help(name), show_default=False)
        ]
    return Annotated[kind | None, typer.Option(flag, help=_param_help(name), show_default=False)]


@app.command(
    help="Apply a trained model, or a classic filter, to your own pose tracks.\n\n"
    "Joints scored below --min-score are interpolated between detections and smoothed with the rest "
    "(--keep-missing leaves them as detected). Filter parameters are in seconds and Hz, so they hold at "
    "any frame rate (--fps, else the file's, else 30). The summary prints the jitter (mean |second "
    "difference|, px/frame^2) before and after, and OUTPUT.denoise.json records the method and its "
    "parameters.\n\n"
    f"Defaults: {help_defaults()}.\n\n"
    f"Presets: {help_presets()}."
    "\n\nExamples: `posedenoise denoise tracks.json -o smooth.json` (the shipped real-track model); "
    "`posedenoise denoise runs/conv3d/1.2 tracks.json -o smooth.json`; "
    "`posedenoise denoise --filter butterworth --cutoff 6 tracks.json -o smooth.json`; "
    "`posedenoise denoise --preset gait tracks.json -o smooth.csv`."
)
def denoise(
    paths: Annotated[
        list[Path],
        typer.Argument(
            metavar="[MODEL] INPUT...",
            help="Optionally a trained model (run folder, .pt file, a shipped name such as posetcn, or "
            "identity), then your tracks: pose files, OpenPose folders, or folders of them. With neither "
            "a model nor a filter: the shipped real-track model posetcn.",
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "-o",
            "--output",
            help="Where to write (INPUT's format, or another suffix to convert); a folder for many inputs.",
        ),
    ] = None,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=1, help="Files denoised at once, in processes.")
    ] = 1,
    filter: Annotated[
        FilterName | None, typer.Option("--filter", help="A classic filter instead of a model.")
    ] = None,
    reject: Annotated[
        RejectName | None,
        typer.Option("--reject", help="Outlier rejection before the filter or model (default: none)."),
    ] = None,
    repair_swaps: Annotated[
        bool | None,
        typer.Option(
            "--repair-swaps/--no-repair-swaps",
            help="First swap left/right pairs back where the other assignment fits the motion much better "
            "(before --reject, the filter or the model). Default: on for a real-track model without "
            "its own swap detector, off otherwise (the shipped posetcn has one).",
            show_default=False,
        ),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            help="Also draw chosen joints of the longest track before and after to this image (.png)."
        ),
    ] = None,
    plot_joints: Annotated[
        str | None,
        typer.Option(help="Joints to plot, comma-separated names (default: wrists and ankles)."),
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(help=f"Filter settings for a kind of motion: {', '.join(PRESETS)} (see above)."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="TOML file of options (keys as the options, _ for -).")
    ] = None,
    min_score: Annotated[
        float | None,
        typer.Option(
            help=f"Joints scored below this are missing (BlazePose: visibility). "
            f"Default: {DEFAULT_MIN_SCORE}.",
            show_default=False,
        ),
    ] = None,
    fill_missing: Annotated[
        bool | None,
        typer.Option(
            "--fill-missing/--keep-missing",
            help="Interpolate and smooth missing joints (the default), or keep them as detected.",
            show_default=False,
        ),
    ] = None,
    layout: Annotated[
        str | None,
        typer.Option(
            help="Name the layout: coco17, coco18, body25, layout25, halpe26, blazepose33, wholebody133, "
            "hand21, penn13 (25 keypoints must be named for a model)."
        ),
    ] = None,
    jump: Annotated[
        float | None,
        typer.Option(
            help=f"Split a track where the body jumps by this many body sizes. Default: {DEFAULT_JUMP}.",
            show_default=False,
        ),
    ] = None,
    max_gap: Annotated[
        int | None,
        typer.Option(
            help=f"Split a track at gaps longer than this many frames. Default: {DEFAULT_MAX_GAP}.",
            show_default=False,
        ),
    ] = None,
    sigma_in: Annotated[
        float, typer.Option(help="Blur of the input heatmaps drawn from your detections.")
    ] = 1.0,
    stride: Annotated[int, typer.Option(help="Frames between windows (1: every frame, averaged).")] = 1,
    batch_size: Annotated[int, typer.Option(help="Windows per batch.")] = 64,
    fps: Annotated[float | None, typer.Option(help="Frame rate (Hz); default: the file's, else 30.")] = None,
    window_s: _param("window_s", float) = None,
    polyorder: _param("polyorder", int) = None,
    sigma_s: _param("sigma_s", float) = None,
    cutoff: _param("cutoff", float) = None,
    order: _param("order", int) = None,
    min_cutoff: _param("min_cutoff", float) = None,
    beta: _param("beta", float) = None,
    d_cutoff: _param("d_cutoff", float) = None,
    zero_phase: _param("zero_phase", bool) = None,
    noise_px: _param("noise_px", float) = None,
    accel: _param("accel", float) = None,
    reject_window_s: _param("reject_window_s", float) = None,
    n_sigmas: _param("n_sigmas", float) = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "cpu",
) -> None:
    from posedenoise.denoise import denoise_file, is_openpose_folder, plan_outputs
    from posedenoise.filter_options import load_config, merge_options

    if output is None:
        raise PoseDenoiseError("give the output file with -o OUTPUT")
    command_line = {
        "filter": filter.value if filter else None,
        "reject": reject.value if reject else None,
        "preset": preset,
        "repair_swaps": repair_swaps,
        "min_score": min_score,
        "fill_missing": fill_missing,
        "layout": layout,
        "jump": jump,
        "max_gap": max_gap,
        "fps": fps,
        "window_s": window_s,
        "polyorder": polyorder,
        "sigma_s": sigma_s,
        "cutoff": cutoff,
        "order": order,
        "min_cutoff": min_cutoff,
        "beta": beta,
        "d_cutoff": d_cutoff,
        "zero_phase": zero_phase,
        "noise_px": noise_px,
        "accel": accel,
        "reject_window_s": reject_window_s,
        "n_sigmas": n_sigmas,
    }
    options = merge_options(command_line, load_config(config) if config is not None else None)
    chosen = options.get("filter")
    if chosen is not None and any(p.suffix == ".pt" for p in paths):
        raise PoseDenoiseError("with --filter or --preset give only INPUT (no checkpoint)")
    if chosen is None and len(paths) >= 2 and _looks_swapped(paths[0], paths[1]):
        raise PoseDenoiseError(
            f"give the checkpoint first, then your tracks: posedenoise denoise {paths[1]} {paths[0]} -o ..."
        )
    # the first path is the model when it names one; otherwise every path is an input and, without a
    # filter, the shipped real-track model is used (denoise_file says so)
    checkpoint = paths[0] if chosen is None and len(paths) > 1 and _names_a_model(paths[0]) else None
    inputs = paths[1:] if checkpoint is not None else paths
    if chosen is None:  # a model runs (the one named, or the shipped one)
        _compute_setup()
    general = {
        k: options[k]
        for k in ("min_score", "fill_missing", "layout", "jump", "max_gap", "fps", "repair_swaps")
        if k in options
    }
    settings = dict(
        checkpoint=checkpoint,
        filter=chosen,
        filter_params=options["filter_params"],
        reject=options.get("reject"),
        reject_params=options["reject_params"],
        device=_model_device(device) if checkpoint is not None else device,  # filters run on numpy
        sigma_in=sigma_in,
        stride=stride,
        batch_size=batch_size,
        **general,
    )
    pairs = plan_outputs(inputs, output)
    if len(inputs) == 1 and (not inputs[0].is_dir() or is_openpose_folder(inputs[0])):
        with ProgressView() as view:
            summary = denoise_file(
                pairs[0][0],
                pairs[0][1],
                progress=view.stage,
                plot=plot,
                plot_joints=[j.strip() for j in plot_joints.split(",")] if plot_joints else None,
                **settings,
            )
        for line in summary.lines():
            out.print(line, markup=False)
        return
    if plot is not None:
        raise PoseDenoiseError("--plot draws one input; give a single file")
    _denoise_files(pairs, jobs, settings)


def _model_device(device: str) -> str:
    from posedenoise.runtime import resolve_device  # imports torch: only for a model

    return str(resolve_device(device))


def _denoise_files(pairs: list[tuple[Path, Path]], jobs: int, settings: dict[str, Any]) -> None:
    """Several files: a line per file as it finishes, then a table; exit 1 if any failed."""
    from posedenoise.denoise import denoise_many

    def done(result: Any) -> None:
        if result.error is not None:
            err.print(f"failed: {result.error}", markup=False)
        else:
            s = result.summary
            out.print(
                f"{result.input} -> {result.output}: {s.tracks} track(s), {s.records} person-frames, "
                f"{s.changed_records} changed, {s.segments} segment(s) ({result.seconds:.1f} s)",
                markup=False,
            )

    err.print(f"{len(pairs)} file(s), {min(jobs, len(pairs))} at a time")
    started = time.perf_counter()
    with ProgressView() as view:
        results = denoise_many(
            pairs, jobs=jobs, on_done=done, progress=view.stage if jobs == 1 else None, **settings
        )
    table = Table(title=f"denoise: {len(pairs)} file(s) in {time.perf_counter() - started:.1f} s")
    for column in ("input", "tracks", "person-frames", "changed", "segments", "seconds", "result"):
        table.add_column(column, justify="left" if column in ("input", "result") else "right")
    for r in results:
        s, name = r.summary, Path(r.input).name  # names are unique: outputs go to one folder
        if s is None:
            table.add_row(name, "", "", "", "", f"{r.seconds:.1f}", "failed")
        else:
            cells = (s.tracks, s.records, s.changed_records, s.segments)
            table.add_row(name, *(str(c) for c in cells), f"{r.seconds:.1f}", "ok")
    out.print(table)
    failed = sum(r.error is not None for r in results)
    if failed:
        raise PoseDenoiseError(f"{failed} of {len(results)} file(s) failed (listed above)")


# ----------------------------------------------------------------------------- entry point


class Interrupted(Exception):
    """Ctrl-C in a command that can say how to continue (the message)."""


EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for a command stopped by Ctrl-C


def _error(message: str, code: int = 1) -> int:
    """Print one `error:` line (whatever newlines the message held) and return the exit code."""
    err.print(f"error: {' '.join(str(message).split())}", markup=False, soft_wrap=True)
    return code


def run(argv: list[str] | None = None) -> int:
    """Run the command line on `argv` (default: sys.argv[1:]) and return its exit code.

    The single error boundary: usage errors (exit 2), a PoseDenoiseError or a failed file operation
    (exit 1) and Ctrl-C (exit 130) each end as one line on stderr, never a traceback. Anything else is a
    bug in posedenoise: one line too, with the traceback when POSEDENOISE_TRACEBACK=1.
    """
    from posedenoise.errors import os_error_message

    try:
        from typer._click.exceptions import ClickException  # typer vendors click since 0.2x
    except ImportError:  # an older typer, on click itself
        from click import ClickException

    try:
        code = app(args=argv, prog_name="posedenoise", standalone_mode=False)
    except ClickException as exc:  # usage errors: unknown option, bad value, missing argument
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            out.print(ctx.get_help(), markup=False, highlight=False)
            return exc.exit_code
        command = getattr(ctx, "command_path", "posedenoise")
        return _error(f"{exc.format_message()} (see `{command} --help`)", exc.exit_code)
    except typer.Abort:
        return _error("aborted", EXIT_INTERRUPTED)
    except Interrupted as exc:
        return _error(str(exc), EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        return _error("interrupted", EXIT_INTERRUPTED)
    except PoseDenoiseError as exc:
        return _error(str(exc))
    except OSError as exc:
        return _error(os_error_message(exc))
    except RecursionError:
        return _error("input nested too deeply to read")
    except MemoryError:
        return _error("out of memory (a smaller --batch-size, --limit or input may fit)")
    except Exception as exc:  # a bug: still no traceback unless asked for
        if os.environ.get("POSEDENOISE_TRACEBACK") == "1":
            raise
        return _error(
            f"internal error ({type(exc).__name__}: {exc}); this is a bug in posedenoise, please report "
            "it with the command you ran (POSEDENOISE_TRACEBACK=1 shows where it happened)"
        )
    if code == EXIT_INTERRUPTED:  # typer turns Ctrl-C into this exit code
        return _error("interrupted", EXIT_INTERRUPTED)
    return code if isinstance(code, int) else 0


def main() -> None:
    """Entry point of the `posedenoise` script and `python -m posedenoise`."""
    sys.exit(run())


if __name__ == "__main__":
    main()
