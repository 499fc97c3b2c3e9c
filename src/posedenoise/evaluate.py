"""Evaluation of checkpoints and baselines on a prepared split, and its cache.

An evaluation is a JSON-ready dict:

    {"model", "shift", "experiment", "split", "windows", "joints_counted",
     "pck": {"0.05": f, "0.1": f, "0.2": f},
     "per_group": {"0.05": {"nose": f, ...}, ...},   # pooled over the group's joints (Tables 3-4)
     "per_joint": {"0.05": {"nose": f, ...}, ...},
     "mean_threshold_px": {"0.05": f, ...},          # mean of alpha x torso over counted joints
     "seed", "limit", "params", "source", "epoch", "trained_on_data",
     "fingerprints": {"checkpoint": sha256 of the file (None for a baseline), "data": dataset fingerprint},
     "version", "noise"}

Accuracies are fractions; a value that was never counted (a joint the data lacks) is null.

"noise" names the detector-noise profile of the inputs: "chapter" (Tables 1-4), or "realistic" for a
checkpoint trained with it (`TrainConfig.noise`; `noise.RealisticNoise`), which is then evaluated with it
and adds "noise_options" (its overrides of the profile's rates), "swap_repair" (the share of left/right
swapped joint-frames whose prediction is closer to the true joint than to the swapped partner's true
position; a prediction landing anywhere passes half the time, so "swap_error_px", the mean error on those
joint-frames in grid px, goes with it), "gap_error_px" (mean prediction error, grid px, on joints missed
in the input: all-zero input heatmaps while the ground truth has them), "swapped_joints" and "gap_joints"
(the joint-frames these count).

The cache lives beside what was evaluated: `<run>/eval-<split>.json` for a run's `best.pt` (another
checkpoint `x.pt` gets `x.eval-<split>.json`), `<runs>/baselines/<name>/<k>.<y>/eval-<split>.json` for a
baseline (`<k>.<y>-realistic/` for the realistic noise profile). A cached file is reused only when the
checkpoint's bytes, the prepared data, the seed, the window limit, the baseline parameters (and noise
options) and this module's result version all match; otherwise the evaluation is redone and the file
rewritten atomically. Validation/test noise is a function of the dataset seed, so every model and
baseline of an experiment sees the same inputs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posedenoise.errors import InputError, PoseDenoiseError
from posedenoise.fileio import json_float, write_json
from posedenoise.layout import GROUPS, JOINTS, NUM_JOINTS
from posedenoise.metrics import DEFAULT_ALPHAS, PCKAccumulator, PCKResult
from posedenoise.noise import CHAPTER, Experiment, NoiseProfile, RepairCounts, make_noise, repair_counts
from posedenoise.runs import Run, evaluation_of

RESULT_VERSION = 1  # bump when the content of an evaluation changes, so older caches count as stale
BASELINES = ("identity", "oneeuro", "savgol", "gaussian")  # identity + the classic smoothers
SMOOTHERS = ("oneeuro", "savgol", "gaussian")
SPLIT_NAMES = ("train", "val", "test")

Progress = Callable[[int, int], None]


# ----------------------------------------------------------------------------- helpers


def alpha_key(alpha: float) -> str:
    """JSON key of a threshold: 0.05 -> "0.05", 0.1 -> "0.1"."""
    return f"{alpha:g}"


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_dataset(data):
    """A PreparedDataset from a folder; a loaded dataset (anything with `.fingerprint()`) passes through."""
    from posedenoise.dataset import PreparedDataset

    if hasattr(data, "fingerprint"):
        return data
    return PreparedDataset.load(data)


def _check_split(split: str) -> None:
    if split not in SPLIT_NAMES:
        raise PoseDenoiseError(f"split must be one of {', '.join(SPLIT_NAMES)}, got {split!r}")


def summarize(result: dict[float, PCKResult]) -> dict[str, Any]:
    """The metric part of an evaluation dict from an accumulator's result."""
    any_alpha = next(iter(result.values()))
    out: dict[str, Any] = {
        "joints_counted": int(any_alpha.counted),
        "pck": {},
        "per_group": {},
        "per_joint": {},
        "mean_threshold_px": {},
    }
    for alpha, r in result.items():
        key = alpha_key(alpha)
        out["pck"][key] = json_float(r.overall)
        out["per_group"][key] = {name: json_float(r.group(joints)) for name, joints in GROUPS.items()}
        out["per_joint"][key] = {name: json_float(v) for name, v in zip(JOINTS, r.per_joint, strict=True)}
        out["mean_threshold_px"][key] = json_float(r.mean_threshold)
    return out


def _resolve_seed(ds, seed: int | None) -> int:
    """The noise seed: the dataset's unless overridden (training's validation uses the dataset's too)."""
    return int(ds.seed if seed is None else seed)


def _materialize(inputs):
    """`inputs` may be EvalInputs or a zero-argument callable making them (called only when needed)."""
    return inputs() if callable(inputs) else inputs


# ----------------------------------------------------------------------------- evaluation


def resolve_checkpoint(target: str | Path) -> Path:
    """A run directory (its `best.pt`), a checkpoint file or a shipped model's name -> the checkpoint path."""
    from posedenoise import shipped

    target = shipped.resolve_checkpoint(target)
    if target.is_dir():
        best = Run(target).best
        if not best.is_file():
            raise InputError(target, "no best.pt in this run directory (has the run finished an epoch?)")
        return best
    if not target.is_file():
        raise InputError(target, "no such run directory or checkpoint")
    return target


def checkpoint_noise(meta: dict) -> NoiseProfile:
    """The detector-noise profile a checkpoint was trained with (the chapter's if unsaid)."""
    train_config = meta.get("train_config") or {}
    return make_noise(train_config.get("noise") or "chapter", train_config.get("noise_options"))


def evaluate_checkpoint(
    path: str | Path,
    data_dir,
    split: str = "test",
    device: str | torch.device = "cpu",
    batch_size: int = 64,
    limit: int | None = None,
    progress: Progress | None = None,
    seed: int | None = None,
    inputs=None,
) -> dict[str, Any]:
    """Evaluate a checkpoint (or a run directory's `best.pt`) on a split of the prepared data.

    `seed` defaults to the dataset's seed (the noise every model is evaluated on); `inputs` may pass
    precomputed `pipeline.eval_inputs(...)` for the same experiment/split/seed/limit (or a callable
    returning them), so that several models of one experiment share them.
    """
    # model code is imported here so that reading cached results does not need it
    from posedenoise.checkpoint import load_model
    from posedenoise.models import predict_coords
    from posedenoise.pipeline import eval_inputs, iterate_batches

    _check_split(split)
    checkpoint = resolve_checkpoint(path)
    ds = load_dataset(data_dir)
    seed = _resolve_seed(ds, seed)
    model, meta = load_model(checkpoint, device=device)
    model.eval()
    exp = Experiment(int(meta["shift"]), int(meta["experiment"]))
    noise = checkpoint_noise(meta)  # evaluated with the noise it was trained with
    inputs = _materialize(inputs)
    if inputs is None or inputs.experiment != exp or inputs.noise != noise:
        # shared inputs of another experiment or noise profile: not ours
        inputs = eval_inputs(ds, exp, split, seed=seed, limit=limit, noise=noise)
    total = len(inputs.sigma_in)
    if total == 0:
        raise PoseDenoiseError(f"the {split} split of {exp.name} has no windows")

    acc = PCKAccumulator(NUM_JOINTS, DEFAULT_ALPHAS)
    repairs = RepairCounts()
    done = 0
    with torch.inference_mode():
        for batch in iterate_batches(inputs, batch_size, device):
            pred = predict_coords(model, batch.x)  # (B, T, K, 2)
            acc.update(pred, batch.gt_coords, batch.present, batch.torso)
            if batch.input_present is not None:
                gt, present = batch.gt_coords, batch.present
                repairs += repair_counts(pred, gt, present, batch.input_present, batch.swapped)
            done += len(batch.x)
            if progress is not None:
                progress(done, total)

    return {
        "model": meta["model"],
        "shift": exp.shift,
        "experiment": exp.number,
        "split": split,
        "windows": total,
        **summarize(acc.result()),
        "seed": seed,
        "limit": limit,
        "params": None,
        "source": str(checkpoint),
        "epoch": meta.get("epoch"),
        "trained_on_data": meta.get("data_fingerprint"),
        "fingerprints": {"checkpoint": file_sha256(checkpoint), "data": ds.fingerprint()},
        "version": RESULT_VERSION,
        **inputs.noise.evaluation_fields(repairs),
    }


def baseline_predictions(
    name: str,
    noisy: np.ndarray,
    present: np.ndarray,
    params: dict,
    fps: np.ndarray | None = None,
    fill_missing: bool = False,
) -> np.ndarray:
    """Coordinates a baseline predicts from the simulated detector output.

    noisy (N, T, K, 2), present (N, T, K); fps (N,) frame rate of each window (the video's, divided by
    the step), used by the One Euro filter. Returns (N, T, K, 2). `identity` returns the detector output
    (the argmax of the input heatmap is the rounded, clipped noisy position); a classic smoother filters
    each window along time on its own, as the models see one window at a time.
    fill_missing (realistic noise, where `present` marks the detected joints): a joint missing from the
    input gets an estimate, (0, 0) for `identity` (the argmax of an all-zero heatmap, as the identity model
    gives) and the interpolation over the gap for a smoother.
    """
    if name == "identity":
        return np.where(present[..., None], noisy, 0).astype(noisy.dtype) if fill_missing else noisy
    if name not in SMOOTHERS:
        raise PoseDenoiseError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}")
    from posedenoise.smoothers import smooth

    # a joint missing from a frame is no detection: NaN, which the smoothers interpolate over
    track = np.where(present[..., None], noisy, np.nan).astype(np.float64)  # (N, T, K, 2)
    try:
        fill = {"fill": True} if fill_missing else {}
        if name != "oneeuro" or "fps" in params or fps is None:
            out = smooth(name, track, axis=1, **params, **fill)
        else:
            out = np.empty_like(track)
            for rate in np.unique(fps):  # few distinct rates (BRACE: 25 and 29.97 fps)
                sel = fps == rate
                out[sel] = smooth(name, track[sel], fps=float(rate), axis=1, **params, **fill)
    except (TypeError, ValueError) as exc:
        raise PoseDenoiseError(f"{name} with parameters {params}: {exc}") from None
    if fill_missing:
        out = np.nan_to_num(out, nan=0.0)  # a joint missing from the whole window: no estimate at all
    return out.astype(np.float32)


def window_fps(ds, inputs) -> np.ndarray:
    """(N,) frame rate seen by each window: its video's fps divided by the window step."""
    fps_of_video = ds.videos["fps"].to_numpy(dtype=np.float64)
    return fps_of_video[ds.video[inputs.starts]] / inputs.experiment.step


def evaluate_baseline(
    name: str,
    shift: int,
    experiment: int,
    data_dir,
    split: str = "test",
    seed: int | None = None,
    limit: int | None = None,
    params: dict | None = None,
    progress: Progress | None = None,
    inputs=None,
    chunk: int = 4096,
    noise: NoiseProfile = CHAPTER,
) -> dict[str, Any]:
    """Evaluate the identity function (or a classic smoother with `params`) on an experiment's split,
    with the detector noise of `noise` (the chapter's by default)."""
    from posedenoise.pipeline import eval_inputs

    _check_split(split)
    if name not in BASELINES:
        raise PoseDenoiseError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}")
    params = dict(params or {})
    if name == "identity" and params:
        raise PoseDenoiseError("the identity function takes no parameters")
    exp = Experiment(int(shift), int(experiment))
    ds = load_dataset(data_dir)
    seed = _resolve_seed(ds, seed)
    inputs = _materialize(inputs)
    if inputs is None or inputs.noise != noise:
        inputs = eval_inputs(ds, exp, split, seed=seed, limit=limit, noise=noise)
    total = len(inputs.sigma_in)
    if total == 0:
        raise PoseDenoiseError(f"the {split} split of {exp.name} has no windows")

    fps = window_fps(ds, inputs)
    acc = PCKAccumulator(NUM_JOINTS, DEFAULT_ALPHAS)
    repairs = RepairCounts()
    realistic = inputs.input_present is not None
    for lo in range(0, total, chunk):
        hi = min(lo + chunk, total)
        present = inputs.present[lo:hi]
        detected = inputs.input_present[lo:hi] if realistic else present  # what the detector gave
        noisy = inputs.noisy_coords[lo:hi]
        pred = baseline_predictions(name, noisy, detected, params, fps[lo:hi], fill_missing=realistic)
        acc.update(pred, inputs.gt_coords[lo:hi], present, inputs.torso[lo:hi])
        if realistic:
            repairs += repair_counts(pred, inputs.gt_coords[lo:hi], present, detected, inputs.swapped[lo:hi])
        if progress is not None:
            progress(hi, total)

    return {
        "model": name,
        "shift": exp.shift,
        "experiment": exp.number,
        "split": split,
        "windows": total,
        **summarize(acc.result()),
        "seed": seed,
        "limit": limit,
        "params": params or None,
        "source": "baseline",
        "epoch": None,
        "trained_on_data": None,
        "fingerprints": {"checkpoint": None, "data": ds.fingerprint()},
        "version": RESULT_VERSION,
        **inputs.noise.evaluation_fields(repairs),
    }


# ----------------------------------------------------------------------------- cache


def read_evaluation(path: str | Path) -> dict | None:
    """A saved evaluation, or None when the file is missing or unreadable (then it is simply redone)."""
    try:
        with open(path) as f:
            result = json.load(f)
    except (OSError, ValueError, RecursionError):
        return None
    return result if isinstance(result, dict) else None


def is_fresh(cached: dict | None, expected: dict[str, Any]) -> bool:
    """Whether a cached evaluation matches every entry of `expected` (fingerprints, seed, limit, ...)."""
    if cached is None:
        return False
    return all(cached.get(key) == value for key, value in expected.items())


def cached_evaluation(
    target: str | Path,
    data_dir,
    split: str = "test",
    device: str | torch.device = "cpu",
    batch_size: int = 64,
    limit: int | None = None,
    seed: int | None = None,
    progress: Progress | None = None,
    force: bool = False,
    inputs=None,
    evaluate_if_stale: bool = True,
) -> dict[str, Any] | None:
    """The evaluation of a run directory or checkpoint, from its cache when that is still valid.

    Valid means: same checkpoint bytes (sha256), same prepared data (fingerprint), same seed, limit and
    result version. Otherwise (or with `force`) it is evaluated and the cache is rewritten atomically;
    with `evaluate_if_stale=False` a missing or stale cache gives None instead.
    """
    _check_split(split)
    checkpoint = resolve_checkpoint(target)
    ds = load_dataset(data_dir)
    seed = _resolve_seed(ds, seed)
    path = evaluation_of(checkpoint, split)
    expected = {
        "split": split,
        "seed": seed,
        "limit": limit,
        "version": RESULT_VERSION,
        "fingerprints": {"checkpoint": file_sha256(checkpoint), "data": ds.fingerprint()},
    }
    from posedenoise.shipped import WEIGHTS_DIR

    # a shipped model's folder is the installed package: its evaluations are computed, never cached there
    in_package = checkpoint.resolve().parent == WEIGHTS_DIR
    cached = None if in_package else read_evaluation(path)
    if not force and is_fresh(cached, expected):
        return cached
    if not evaluate_if_stale:
        return None
    result = evaluate_checkpoint(
        checkpoint, ds, split, device=device, batch_size=batch_size, limit=limit, progress=progress,
        seed=seed, inputs=inputs,
    )  # fmt: skip
    if not in_package:
        write_json(path, result)
    return result


def cached_baseline(
    name: str,
    shift: int,
    experiment: int,
    runs_dir: str | Path,
    data_dir,
    split: str = "test",
    limit: int | None = None,
    seed: int | None = None,
    params: dict | None = None,
    progress: Progress | None = None,
    force: bool = False,
    inputs=None,
    evaluate_if_stale: bool = True,
    noise: NoiseProfile = CHAPTER,
) -> dict[str, Any] | None:
    """A baseline's evaluation, from `<runs>/baselines/<name>/<k>.<y>/eval-<split>.json` when valid
    (`<k>.<y>-realistic/` with the realistic noise profile, valid for the same `noise_options` only).

    A smoother cached with other parameters is stale: the cache holds one parameter set per baseline.
    With `evaluate_if_stale=False` a missing or stale cache gives None instead of an evaluation.
    """
    _check_split(split)
    ds = load_dataset(data_dir)
    seed = _resolve_seed(ds, seed)
    path = Run.baseline(runs_dir, name, Experiment(int(shift), int(experiment)), noise).evaluation(split)
    expected = {
        "model": name,
        "split": split,
        "seed": seed,
        "limit": limit,
        "params": dict(params) if params else None,
        "version": RESULT_VERSION,
        "fingerprints": {"checkpoint": None, "data": ds.fingerprint()},
    }
    if noise.run_suffix:  # a profile's own folder: its options must match too
        expected.update(noise.describe())
    cached = read_evaluation(path)
    if not force and is_fresh(cached, expected):
        return cached
    if not evaluate_if_stale:
        return None
    result = evaluate_baseline(
        name, shift, experiment, ds, split, seed=seed, limit=limit, params=params, progress=progress,
        inputs=inputs, noise=noise,
    )  # fmt: skip
    write_json(path, result)
    return result
