"""Whole tracks for the real-track model (`models.posetcn`): synthetic people in image pixels, the realistic
detector noise applied in each frame's crop, and the features the model reads.

The chapter's data are 5-frame windows cropped frame by frame onto a 56-pixel grid; a model for real
tracks needs the opposite: long stretches in image pixels (the person moves across the picture, the crop
does not follow), every one of the 25 joints (the synthetic people have hands and feet, the chapter's
datasets do not), and noise at the detector's real scale as well as the chapter's.

Noise: `noise.apply_realistic_noise` (swaps, misses, outliers, confidence-scaled shifts) runs on each frame's
person box mapped onto a fine grid (16 sub-pixels per chapter grid pixel, so its rounding costs nothing),
with the chapter's shift scaled per track by a level drawn log-uniformly (`NOISE_LEVELS`): level 1 is the
chapter's k = 1 (3 grid pixels, 5% of the box), level 0.2 is about MediaPipe on a clear video.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from posedenoise.constants import GRID
from posedenoise.layout import COCO17_TO_25, FLIP_PAIRS, JOINT_INDEX, NUM_JOINTS, PENN13_TO_25
from posedenoise.noise import Experiment, RealisticNoise, apply_realistic_noise, train_realistic_noise
from posedenoise.smoothers import fill_gaps

TRACK_FRAMES = 96  # frames per training crop (the model's receptive field is 121; crops end with padding)
SUBPIXELS = 16  # fine grid: rounding to 1/16 of a chapter grid pixel
FINE_GRID = GRID * SUBPIXELS
NOISE_LEVELS = (0.1, 2.0)  # per-track shift level range, x the chapter's k = 1 (log-uniform)
CENTRE_SIGMA = 2.0  # frames: smoothing of the body centre that features are relative to
VELOCITY_GAIN = 10.0  # the centre's velocity (size units per frame) is small: scale it towards 1
COCO_JOINTS = COCO17_TO_25 >= 0  # (25,) joints a COCO-17 detector reports
PENN_JOINTS = PENN13_TO_25 >= 0
_LEFT_SHOULDER, _RIGHT_SHOULDER = JOINT_INDEX["left_shoulder"], JOINT_INDEX["right_shoulder"]
_LEFT_HIP, _RIGHT_HIP = JOINT_INDEX["left_hip"], JOINT_INDEX["right_hip"]


# ----------------------------------------------------------------------------- features (train and denoise)


def interpolate_missing(coords: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(B, T, K, 2) float64: missing joints (`present` (B, T, K) False) linearly interpolated over time,
    held at the first/last detection at the ends; NaN for joints never detected in a track."""
    return fill_gaps(np.where(np.asarray(present, dtype=bool)[..., None], coords, np.nan), axis=1)


@dataclass
class TrackFeatures:
    features: np.ndarray  # (B, T, K, 10) float32, the model's input (see models.posetcn)
    filled: np.ndarray  # (B, T, K, 2) float64 pixels: the input with gaps interpolated (the centre if unseen)
    scale: np.ndarray  # (B,) pixels per size unit


def track_features(coords: np.ndarray, present: np.ndarray, confidence: np.ndarray) -> TrackFeatures:
    """The model's input for tracks of pixels `coords` (B, T, K, 2), detections `present` (B, T, K) and the
    detector's scores `confidence` (B, T, K) in [0, 1]. Tracks are expected to have at least one frame with
    two detected joints."""
    present = np.asarray(present, dtype=bool)
    filled = interpolate_missing(coords, present)
    b, t, k, _ = filled.shape
    # the body centre: mean of the detected joints (a left/right swap leaves it where it was), gaps
    # interpolated, smoothed so that the features of all joints do not share one frame's noise
    count = present.sum(axis=2)  # (B, T)
    mean = np.where(present[..., None], filled, 0.0).sum(axis=2) / np.maximum(count, 1)[..., None]
    centre = interpolate_missing(mean[:, :, None], (count > 0)[:, :, None])
    centre = np.nan_to_num(centre[:, :, 0])  # (B, T, 2)
    centre = gaussian_filter1d(centre, CENTRE_SIGMA, axis=1, mode="nearest")
    # size: the median over frames of the detected joints' extent (robust to a frame with an outlier)
    lo = np.where(present[..., None], filled, np.inf).min(axis=2)
    hi = np.where(present[..., None], filled, -np.inf).max(axis=2)
    extent = np.where(count >= 2, (hi - lo).max(axis=-1), np.nan)  # (B, T)
    with np.errstate(all="ignore"):
        scale = np.nanmedian(extent, axis=1)
    scale = np.where(np.isfinite(scale) & (scale > 1e-6), scale, 1.0)  # (B,)
    filled = np.where(np.isnan(filled), centre[:, :, None, :], filled)  # never-seen joints: the centre
    rel = (filled - centre[:, :, None, :]) / scale[:, None, None, None]  # (B, T, K, 2)
    velocity = np.zeros_like(centre)
    velocity[:, 1:] = np.diff(centre, axis=1) / scale[:, None, None] * VELOCITY_GAIN
    conf = np.where(present, np.clip(np.nan_to_num(confidence), 0, 1), 0.0)
    own = np.concatenate([rel, conf[..., None], present[..., None]], axis=-1)  # (B, T, K, 4)
    partner = own[:, :, FLIP_PAIRS[:k]]  # the other side's joint (itself for the nose)
    features = np.concatenate(
        [own, partner, np.broadcast_to(velocity[:, :, None, :], (b, t, k, 2))], axis=-1
    ).astype(np.float32)
    return TrackFeatures(features, filled, scale)


def apply_corrections(features: TrackFeatures, corrections: np.ndarray | torch.Tensor) -> np.ndarray:
    """(B, T, K, 2) pixels: the interpolated input plus the model's corrections (size units)."""
    corrections = torch.as_tensor(corrections).detach().cpu().double().numpy()
    return features.filled + corrections * features.scale[:, None, None, None]


# ----------------------------------------------------------------------------- synthetic clean tracks


@dataclass
class CleanTracks:
    """Ground-truth crops of synthetic videos in image pixels."""

    coords: np.ndarray  # (N, T, 25, 2) float32 true positions of every joint (occluded ones too)
    visible: np.ndarray  # (N, T, 25) bool: the joint can be seen (what a detector could find)
    torso: np.ndarray  # (N, T) float32 pixels: mean of the shoulder-hip distances

    def __len__(self) -> int:
        return len(self.coords)


def synthetic_clean_tracks(videos: int, seed: int, frames: int = TRACK_FRAMES) -> CleanTracks:
    """Crops of `frames` consecutive frames from `videos` synthetic videos (every video at least that
    long; a longer one gives as many non-overlapping crops as fit). Deterministic for the seed."""
    from posedenoise.sources.synthetic import BATCH_VIDEOS, SyntheticConfig, simulate_batch

    config = SyntheticConfig(videos=videos, seed=seed, min_frames=frames, max_frames=max(frames, 190))
    coords, visible = [], []
    for batch_index in range(math.ceil(videos / BATCH_VIDEOS)):
        batch = simulate_batch(config, batch_index)
        take = min(BATCH_VIDEOS, videos - batch_index * BATCH_VIDEOS)
        for i in range(take):
            for s in range(0, int(batch.lengths[i]) - frames + 1, frames):
                coords.append(batch.pixels[i, s : s + frames, :NUM_JOINTS])
                visible.append(batch.visible[i, s : s + frames, :NUM_JOINTS])
    coords_a = np.stack(coords).astype(np.float32)
    left = np.linalg.norm(coords_a[..., _LEFT_SHOULDER, :] - coords_a[..., _LEFT_HIP, :], axis=-1)
    right = np.linalg.norm(coords_a[..., _RIGHT_SHOULDER, :] - coords_a[..., _RIGHT_HIP, :], axis=-1)
    return CleanTracks(coords_a, np.stack(visible), ((left + right) / 2).astype(np.float32))


# ----------------------------------------------------------------------------- detector noise on tracks


@dataclass
class NoisyTracks:
    coords: np.ndarray  # (N, T, 25, 2) float64 pixels reported by the simulated detector
    present: np.ndarray  # (N, T, 25) bool: detected
    confidence: np.ndarray  # (N, T, 25) float32 the detector's score
    swapped: np.ndarray  # (N, T, 25) bool: left/right inverted
    level: np.ndarray  # (N,) noise level (x the chapter's k = 1 shift)


def person_boxes(coords: np.ndarray, margin: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Each frame's square person box grown by `margin` per side (as `geometry.crop_to_grid`, from every
    true joint): origins (N, T, 2) and sides (N, T)."""
    lo, hi = coords.min(axis=2), coords.max(axis=2)  # (N, T, 2)
    side = np.maximum((hi - lo).max(axis=-1), 1e-3) * (1 + 2 * margin)
    return (hi + lo) / 2 - side[..., None] / 2, side


def simulate_detector(
    clean: CleanTracks,
    generator: torch.Generator,
    levels: tuple[float, float] = NOISE_LEVELS,
    profile: RealisticNoise | None = None,
    layout_dropout: bool = True,
) -> NoisyTracks:
    """What a detector reports for `clean`: the realistic profile in each frame's box, a shift level per
    track drawn log-uniformly from `levels`, and (with `layout_dropout`) a third of the tracks seen by a
    COCO-17 detector (no hands, heels or feet) and a tenth by a Penn Action one (no ears either)."""
    profile = profile or RealisticNoise()
    n, t, k, _ = clean.coords.shape
    origin, side = person_boxes(clean.coords)
    fine = (clean.coords - origin[:, :, None]) / side[:, :, None, None] * (FINE_GRID - 1)  # (N, T, K, 2)
    draws = train_realistic_noise(generator, n, k, frames=t)
    lo, hi = math.log(levels[0]), math.log(levels[1])
    level = torch.exp(lo + (hi - lo) * torch.rand(n, generator=generator))  # (N,)
    draws.base.z = draws.base.z * (level * SUBPIXELS)[:, None, None, None]  # shifts on the fine grid
    layout_u = torch.rand(n, generator=generator).numpy()
    out = apply_realistic_noise(
        torch.from_numpy(fine), torch.ones((n, t, k), dtype=torch.bool), draws, Experiment(1, 1), profile,
        size=FINE_GRID,
    )  # fmt: skip
    detected = out.input_present.numpy() & clean.visible
    if layout_dropout:
        detected[layout_u < 1 / 3] &= COCO_JOINTS
        detected[(layout_u >= 1 / 3) & (layout_u < 1 / 3 + 0.1)] &= PENN_JOINTS
    pixels = out.noisy.double().numpy() / (FINE_GRID - 1) * side[:, :, None, None] + origin[:, :, None]
    return NoisyTracks(
        coords=pixels,
        present=detected,
        confidence=out.confidence.numpy(),
        swapped=out.swapped.numpy(),
        level=level.numpy(),
    )


def eval_detector(clean: CleanTracks, seed: int, level: float, profile: RealisticNoise | None = None):
    """Deterministic detector output for evaluation: one fixed `level`, every joint of the layout."""
    g = torch.Generator().manual_seed(seed)
    return simulate_detector(clean, g, (level, level), profile, layout_dropout=False)
