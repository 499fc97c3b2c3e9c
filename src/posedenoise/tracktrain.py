"""Training and evaluating the real-track model (`models.posetcn`) on synthetic tracks with realistic noise.

`fit_tracks(config, run_dir)` trains on crops of synthetic videos (`trackdata`), the detector noise drawn
anew for every batch from a generator seeded by (seed, step), so a run resumed from `last.pt` ends exactly
where an uninterrupted one does. The learning rate warms up linearly, then follows a cosine to zero.

`evaluate_tracks` scores any track method (the model, the identity, each classic smoother at its best
parameter on the same data) by PCK against the ground truth, in image pixels, with each frame's torso
diameter as the unit, plus the share of left/right-swapped joints that come out on the right side.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from posedenoise import fileio
from posedenoise.checkpoint import load_weights_into, read_checkpoint, save_checkpoint
from posedenoise.errors import InputError, PoseDenoiseError
from posedenoise.layout import FLIP_PAIRS, JOINTS
from posedenoise.metrics import pck
from posedenoise.models import create_model
from posedenoise.smoothers import smooth
from posedenoise.swaps import repair_swaps
from posedenoise.trackdata import (
    TRACK_FRAMES,
    CleanTracks,
    NoisyTracks,
    apply_corrections,
    eval_detector,
    interpolate_missing,
    simulate_detector,
    synthetic_clean_tracks,
    track_features,
)

Callback = Callable[[dict[str, Any]], None]
ALPHAS = (0.05, 0.1, 0.2)


@dataclass
class TrackTrainConfig:
    model: str = "posetcn"  # a registered track model
    model_options: dict = field(default_factory=dict)  # create_model(**options)
    videos: int = 2000  # synthetic training videos (crops of `frames` frames)
    data_seed: int = 1  # seed of the training videos (evaluation uses others)
    frames: int = TRACK_FRAMES  # frames per training crop
    steps: int = 2500  # optimizer steps
    batch_size: int = 32  # crops per step
    lr: float = 2e-3  # peak learning rate (Adam)
    warmup: int = 100  # steps of linear warm-up
    weight_decay: float = 0.0
    seed: int = 0  # model init, crop order and noise
    val_videos: int = 64  # videos scored every `val_every` steps
    val_seed: int = 2  # seed of those videos
    val_every: int = 250
    fixed_noise: bool = False  # the same detector noise at every step (overfitting checks)
    init_from: str | None = None  # checkpoint (or shipped name) whose weights training starts from
    swap_weight: float = 1.0  # weight of the swap detector's loss (models with one)
    accel_weight: float = 0.0  # weight of the acceleration loss (smoothness measured against the truth)

    def __post_init__(self) -> None:
        counts = {"--steps": self.steps, "--videos": self.videos, "batch_size": self.batch_size,
                  "val_videos": self.val_videos, "val_every": self.val_every}  # fmt: skip
        for name, value in counts.items():
            if not (isinstance(value, int) and value >= 1):
                raise PoseDenoiseError(f"{name} must be a positive integer, got {value!r}")
        if not (isinstance(self.frames, int) and self.frames >= 8):
            raise PoseDenoiseError(f"frames must be an integer >= 8, got {self.frames!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise PoseDenoiseError(f"--lr must be a positive number, got {self.lr}")
        for name in ("swap_weight", "accel_weight"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise PoseDenoiseError(f"--{name.replace('_', '-')} must be a number >= 0, got {value}")
        if self.seed < 0 or self.data_seed < 0 or self.val_seed < 0:
            raise PoseDenoiseError("seeds must be non-negative")


def lr_at(step: int, config: TrackTrainConfig) -> float:
    """Linear warm-up to `lr`, then a cosine to zero at `steps` (a pure function of the step)."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = (step - config.warmup) / max(config.steps - config.warmup, 1)
    return config.lr * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


UNSEEN_WEIGHT = 0.1  # weight of joints never detected in a crop (a layout without them, long occlusions)


def track_loss(
    corrections: torch.Tensor, feats, clean_coords: np.ndarray, present: np.ndarray, accel_weight: float = 0.0
) -> torch.Tensor:
    """Mean distance, in units of the track's size, between the corrected joints and the truth, over every
    joint of every frame (the synthetic people have all of them, occluded ones included). Joints never
    detected in a crop count `UNSEEN_WEIGHT` as much: guessing a hand nobody saw should not drown the
    corrections of what was seen.

    With `accel_weight`, plus that weight times the mean distance between the estimate's acceleration
    (second difference over frames) and the truth's: a distance loss alone tolerates an estimate that
    trembles around the truth, which a viewer sees as jitter (as SmoothNet's loss does)."""
    filled = torch.from_numpy(feats.filled).float()  # (B, T, K, 2) pixels
    scale = torch.from_numpy(feats.scale).float()[:, None, None, None]
    target = (torch.from_numpy(clean_coords).float() - filled) / scale  # the ideal correction
    seen = torch.from_numpy(np.asarray(present).any(axis=1))  # (B, K)
    weight = torch.where(seen, 1.0, UNSEEN_WEIGHT)[:, None, :].expand(corrections.shape[:-1])  # (B, T, K)
    error = corrections - target  # (B, T, K, 2)
    loss = (error.norm(dim=-1) * weight).sum() / weight.sum()
    if accel_weight:
        accel = error[:, 2:] - 2 * error[:, 1:-1] + error[:, :-2]  # the estimate's minus the truth's
        w = weight[:, 1:-1]
        loss = loss + accel_weight * (accel.norm(dim=-1) * w).sum() / w.sum()
    return loss


def swap_loss(logits: torch.Tensor, swapped: np.ndarray, present: np.ndarray) -> torch.Tensor:
    """Binary cross-entropy of the swap detector's logits (B, T, K) against the pairs the simulated detector
    inverted, over frames where at least one joint of the pair was detected (the nose has no pair)."""
    flip = torch.as_tensor(FLIP_PAIRS[: logits.shape[-1]])
    present = torch.from_numpy(np.asarray(present, dtype=bool))
    counted = (present | present[..., flip]) & (flip != torch.arange(len(flip)))
    target = torch.from_numpy(np.asarray(swapped, dtype=bool)).float()
    return torch.nn.functional.binary_cross_entropy_with_logits(logits[counted], target[counted])


def predict_tracks(model: torch.nn.Module, noisy_coords, present, confidence) -> np.ndarray:
    """(B, T, K, 2) pixels: the model on tracks of one length."""
    feats = track_features(noisy_coords, present, confidence)
    model.eval()
    with torch.inference_mode():
        corrections = model(torch.from_numpy(feats.features))
    return apply_corrections(feats, corrections)


@dataclass
class FitTracksResult:
    run_dir: Path
    steps: int
    val: dict  # last validation scores
    seconds: float


def fit_tracks(
    config: TrackTrainConfig, run_dir: str | Path, resume: bool = False, callback: Callback | None = None
) -> FitTracksResult:
    run_dir = Path(run_dir)
    last_path = run_dir / "last.pt"
    state = None
    if last_path.exists():
        if not resume:
            raise PoseDenoiseError(f"{run_dir}: a run already exists; pass --resume to continue it")
        state = read_checkpoint(last_path)
        if "optimizer" not in state:
            raise InputError(last_path, "not a resumable last.pt (no training state)")
        config = TrackTrainConfig(**{**state["meta"]["train_config"], "steps": max(config.steps, 0)})
    torch.manual_seed(config.seed)
    model = create_model(config.model, **config.model_options)
    if getattr(model, "input_kind", None) != "tracks":
        raise PoseDenoiseError(f"{config.model} is not a track model")
    if config.init_from and state is None:
        load_weights_into(model, config.init_from, config.model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    start, history, elapsed = 0, [], 0.0
    if state is not None:
        model.load_state_dict(state["state_dict"])
        optimizer.load_state_dict(state["optimizer"])
        start, history, elapsed = state["step"], state["history"], state["seconds"]

    clean = synthetic_clean_tracks(config.videos, config.data_seed, config.frames)
    val_clean = synthetic_clean_tracks(config.val_videos, config.val_seed, config.frames)
    val_noisy = eval_detector(val_clean, seed=config.val_seed, level=1.0)
    meta = {
        "model": config.model,
        "model_options": asdict(model.config),
        "kind": "tracks",
        "train_config": asdict(config),
        "crops": len(clean),
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    fileio.write_json(run_dir / "config.json", meta)
    if callback:
        callback(
            {"event": "tracks_start", "run_dir": str(run_dir), "crops": len(clean), "resumed_from": start}
        )

    def save(step: int, val: dict) -> None:
        save_checkpoint(
            last_path,
            model,
            {**meta, "step": step, "val": val},
            optimizer=optimizer.state_dict(),
            step=step,
            history=history,
            seconds=elapsed,
        )

    val: dict = history[-1]["val"] if history else {}
    t0 = time.perf_counter() - elapsed
    running, last_val = 0.0, start
    for step in range(start, config.steps):
        model.train()
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, config)
        g = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
        idx = torch.randint(0, len(clean), (config.batch_size,), generator=g).numpy()
        batch = CleanTracks(clean.coords[idx], clean.visible[idx], clean.torso[idx])
        if config.fixed_noise:
            g.manual_seed(config.seed)
        noisy = simulate_detector(batch, g)
        feats = track_features(noisy.coords, noisy.present, noisy.confidence)
        x = torch.from_numpy(feats.features)
        corrections, swap_logits = (
            model.forward_with_swaps(x) if hasattr(model, "forward_with_swaps") else (model(x), None)
        )
        loss = track_loss(corrections, feats, batch.coords, noisy.present, config.accel_weight)
        if swap_logits is not None:
            loss = loss + config.swap_weight * swap_loss(swap_logits, noisy.swapped, noisy.present)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        running += loss.item()
        done = step + 1
        if done % config.val_every == 0 or done == config.steps:
            pred = predict_tracks(model, val_noisy.coords, val_noisy.present, val_noisy.confidence)
            scores = track_scores(pred, val_clean, val_noisy)
            val = {f"pck@{a:g}": scores[f"pck@{a:g}"] for a in ALPHAS}
            elapsed = time.perf_counter() - t0
            history.append({"step": done, "train_loss": running / (done - last_val), "val": val})
            running, last_val = 0.0, done
            save(done, val)
            if callback:
                callback({"event": "tracks_val", "steps": config.steps, **history[-1]})
        elif callback and done % 50 == 0:
            callback({"event": "tracks_batch", "step": done, "steps": config.steps, "loss": loss.item()})
    elapsed = time.perf_counter() - t0
    save_checkpoint(run_dir / "best.pt", model, {**meta, "step": config.steps, "val": val}, seconds=elapsed)
    return FitTracksResult(run_dir, config.steps, val, elapsed)


# ----------------------------------------------------------------------------- evaluation


def track_scores(pred: np.ndarray, clean: CleanTracks, noisy: NoisyTracks) -> dict[str, float]:
    """PCK (joints visible in the truth, torso in pixels; a missing estimate counts as wrong), mean error in
    torso units, and the share of swapped joints whose estimate is nearer the true joint than its partner."""
    pred = np.where(np.isfinite(pred), pred, 1e9)
    result = pck(pred, clean.coords, clean.visible, clean.torso, ALPHAS)
    out = {f"pck@{a:g}": float(result[a].overall) for a in ALPHAS}
    err = np.linalg.norm(pred - clean.coords, axis=-1) / clean.torso[..., None]
    out["mean_error_torso"] = float(np.minimum(err, 10)[clean.visible].mean())
    partner = clean.coords[:, :, FLIP_PAIRS]
    counted = noisy.swapped & noisy.present & clean.visible & clean.visible[:, :, FLIP_PAIRS]
    own = np.linalg.norm(pred - clean.coords, axis=-1)
    other = np.linalg.norm(pred - partner, axis=-1)
    out["swapped_joints"] = int(counted.sum())
    out["swap_repair"] = float((own < other)[counted].mean()) if counted.any() else float("nan")
    return out


SMOOTHER_GRID: dict[str, list[dict]] = {
    "gaussian": [{"sigma": s} for s in (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)],
    "savgol": [{"window": w, "polyorder": 2} for w in (5, 7, 9, 13, 17, 25)],
    "oneeuro": [{"min_cutoff": c, "beta": b} for c in (0.5, 1.0, 2.0) for b in (0.0, 0.01, 0.05)],
}


def smoother_tracks(name: str, noisy: NoisyTracks, fps: float = 30.0, **params) -> np.ndarray:
    """A classic smoother on every track (gaps interpolated, undetected joints NaN)."""
    x = np.where(noisy.present[..., None], noisy.coords, np.nan)
    return smooth(name, x, fps=fps, axis=1, fill=True, **params)


def compare_on_tracks(
    model: torch.nn.Module | None, clean: CleanTracks, noisy: NoisyTracks, fps: float = 30.0
) -> list[dict[str, Any]]:
    """Rows {"method", "params", scores...}: the identity (gaps interpolated), each classic smoother at the
    parameter of its grid that scores best at PCK@0.2 on these very tracks (an oracle choice: the
    strongest version of each baseline), the model, and the model after the model-free swap repair (what
    `denoise` runs by default)."""
    rows = []
    identity = interpolate_missing(noisy.coords, noisy.present)
    rows.append(
        {"method": "identity (gaps interpolated)", "params": {}, **track_scores(identity, clean, noisy)}
    )
    for name, grid in SMOOTHER_GRID.items():
        best = None
        for params in grid:
            scores = track_scores(smoother_tracks(name, noisy, fps, **params), clean, noisy)
            if best is None or scores["pck@0.2"] > best[1]["pck@0.2"]:
                best = (params, scores)
        rows.append({"method": name, "params": best[0], **best[1]})
    if model is not None:
        pred = predict_tracks(model, noisy.coords, noisy.present, noisy.confidence)
        rows.append({"method": "model", "params": {}, **track_scores(pred, clean, noisy)})
        # what `denoise` does with a track model by default: the model-free swap repair first
        repaired = np.stack(
            [repair_swaps(c, p, list(JOINTS))[0] for c, p in zip(noisy.coords, noisy.present, strict=True)]
        )
        pred = predict_tracks(model, repaired, noisy.present, noisy.confidence)
        rows.append({"method": "swap repair + model", "params": {}, **track_scores(pred, clean, noisy)})
    return rows


def evaluate_track_model(
    model: torch.nn.Module | None, videos: int = 200, seed: int = 12345, level: float = 1.0
) -> list[dict[str, Any]]:
    """`compare_on_tracks` on `videos` synthetic videos of `seed` with detector noise at `level`."""
    clean = synthetic_clean_tracks(videos, seed)
    return compare_on_tracks(model, clean, eval_detector(clean, seed=seed, level=level))
