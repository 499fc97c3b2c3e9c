"""Simulated keypoint-detector noise (chapter 1.1 and 1.2.2).

The chapter's profile: every present joint of every frame is shifted by an independent draw from
N(0, (3k)^2) per coordinate, clipped to the grid, rounded, and drawn with an input blur sigma_in.

Noise is expressed as standard-normal draws `z` and a sigma index, scaled only when applied, so that the
k = 1 and k = 2 runs of an experiment see the same draws at two magnitudes. Validation and test noise is
a pure function of (seed, step, split, position of the window in its split): identical for every model,
whatever `--limit` is. Training noise is redrawn each epoch from a generator seeded by (seed, epoch).

`RealisticNoise` (below) is a second profile, chosen per run (`TrainConfig.noise = "realistic"`): on top of
the chapter's shifts, left/right swaps over runs of frames, missed joints and frames, outliers, and shifts
growing as a latent detector confidence falls, with rates from real MediaPipe output.

A run's noise setting becomes a `NoiseProfile` once (`make_noise`, at the end): `ChapterProfile` or
`RealisticProfile`, each knowing its draws, how to apply them and the folder suffix of its runs.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch

from posedenoise.constants import GRID, SPLITS, WINDOW
from posedenoise.errors import PoseDenoiseError
from posedenoise.fileio import json_float
from posedenoise.layout import FLIP_PAIRS

SIGMA_OUT = 1.0  # ground-truth blur
SIGMA_CHOICES = (1.0, 1.5, 2.0, 2.5, 3.0)  # input blur choices of experiments 1 and 3
SHIFT_SCALE = 3.0  # shift std = 3 k grid pixels


@dataclass(frozen=True)
class Experiment:
    """One of the chapter's six settings, named `k.y`."""

    shift: int  # k: shifting scalar, shift std = 3k px
    number: int  # y: 1 random sigma_in, 2 sigma_in = 1, 3 half frame rate + random sigma_in

    def __post_init__(self) -> None:
        if self.shift not in (1, 2):
            raise PoseDenoiseError(f"shift must be 1 or 2, got {self.shift}")
        if self.number not in (1, 2, 3):
            raise PoseDenoiseError(f"experiment must be 1, 2 or 3, got {self.number}")

    @property
    def name(self) -> str:
        return f"{self.shift}.{self.number}"

    @property
    def step(self) -> int:
        return 2 if self.number == 3 else 1

    @property
    def sigma_choices(self) -> tuple[float, ...]:
        return (1.0,) if self.number == 2 else SIGMA_CHOICES

    @property
    def shift_std(self) -> float:
        return SHIFT_SCALE * self.shift

    @classmethod
    def parse(cls, name: str) -> Experiment:
        try:
            k, y = (int(p) for p in name.split("."))
        except ValueError:
            raise PoseDenoiseError(f"experiment name must look like 'k.y' (e.g. 2.3), got {name!r}") from None
        return cls(k, y)


ALL_EXPERIMENTS: tuple[Experiment, ...] = tuple(Experiment(k, y) for k in (1, 2) for y in (1, 2, 3))


@dataclass
class NoiseDraws:
    """Standard draws for a set of windows; `apply_noise` turns them into detector output."""

    z: torch.Tensor | np.ndarray  # (N, T, K, 2) standard normal
    sigma_index: torch.Tensor | np.ndarray  # (N,) int, index into the experiment's sigma choices


EVAL_NOISE_CHUNK = 4096  # windows of validation/test shifts drawn at a time


def eval_noise(seed: int, step: int, split: str, n: int, joints: int = 25) -> NoiseDraws:
    """Deterministic draws for the first `n` windows of a split (numpy; the same for every model).

    Two independent streams (shifts, sigmas) keyed by (seed, step, split), so window i gets the same draws
    whatever n is: numpy fills arrays in order, the first i rows do not depend on how many follow.
    """
    key = [seed, step, SPLITS[split]]
    # drawn in float64 a chunk at a time into the float32 result: the same numbers as one draw (the stream
    # continues across calls) without a float64 copy of the whole split (135 MB at full scale)
    z = np.empty((n, WINDOW, joints, 2), dtype=np.float32)
    shifts = np.random.default_rng([*key, 0])
    for i in range(0, n, EVAL_NOISE_CHUNK):
        z[i : i + EVAL_NOISE_CHUNK] = shifts.standard_normal(z[i : i + EVAL_NOISE_CHUNK].shape)
    sigma_index = np.random.default_rng([*key, 1]).integers(0, len(SIGMA_CHOICES), size=n)
    return NoiseDraws(z=z, sigma_index=sigma_index)


def train_noise(
    generator: torch.Generator, batch: int, joints: int = 25, device: torch.device | str = "cpu"
) -> NoiseDraws:
    """Fresh draws for one training batch from a device generator."""
    z = torch.randn((batch, WINDOW, joints, 2), generator=generator, device=device)
    sigma_index = torch.randint(0, len(SIGMA_CHOICES), (batch,), generator=generator, device=device)
    return NoiseDraws(z=z, sigma_index=sigma_index)


def apply_noise(
    coords: torch.Tensor, draws: NoiseDraws, experiment: Experiment, size: int = GRID
) -> tuple[torch.Tensor, torch.Tensor]:
    """Simulated detector output for ground-truth grid coords `(N, T, K, 2)`.

    Returns noisy coords `(N, T, K, 2)` (shifted, clipped to [0, size-1], rounded) and sigma_in `(N,)`.
    Missing joints are moved too, harmlessly: the renderer masks them.
    """
    z = torch.as_tensor(draws.z, device=coords.device)
    idx = torch.as_tensor(draws.sigma_index, device=coords.device)
    noisy = (coords + experiment.shift_std * z).clamp_(0, size - 1).round_()
    choices = torch.tensor(experiment.sigma_choices, dtype=torch.float32, device=coords.device)
    # sigma index is drawn over five choices; experiment 2's single choice takes every index to sigma 1
    sigma_in = choices[idx % len(choices)]
    return noisy, sigma_in


# ----------------------------------------------------------------------------------------------------------
# The "realistic" detector-noise profile (an addition beside the chapter's, which stays the default)

# Left/right pairs that a detector inverts together (both sides of each chain listed): a limb's whole
# chain flips at once in the real sample (knee, ankle, heel and foot index change sides in the same frames).
SWAP_GROUPS: dict[str, tuple[int, ...]] = {
    "arms": (5, 6, 7, 8, 9, 10, 11, 12, 13, 14),  # elbows, wrists, pinkies, index fingers, thumbs
    "legs": (17, 18, 19, 20, 21, 22, 23, 24),  # knees, ankles, heels, foot indices
}

# Quantiles (at 0%, 5%, ..., 100%) of MediaPipe Pose's landmark visibility over the 25 joints of this
# package's layout in examples/data/sports2d_demo_raw.json (221 frames x 25 joints); the latent
# confidence of a simulated joint follows this distribution.
REAL_VISIBILITY_QUANTILES: tuple[float, ...] = (
    0.004, 0.113, 0.366, 0.593, 0.771, 0.855, 0.902, 0.930, 0.948, 0.961, 0.971,
    0.979, 0.985, 0.991, 0.995, 0.998, 0.999, 1.0, 1.0, 1.0, 1.0,
)  # fmt: skip


@dataclass(frozen=True)
class RealisticNoise:
    """Detector failures the chapter's independent Gaussian shifts never show, on top of those shifts.

    Error types follow the taxonomy of Ruggero Ronchi and Perona, "Benchmarking and Error Diagnosis in
    Multi-Instance Pose Estimation" (ICCV 2017): *jitter* (a small displacement: the chapter's shift, here
    growing as the detector's confidence falls), *inversion* (left/right confusion of the same person: our
    `swap`), *miss* (a detection far from any true joint: our `outlier`), and joints or whole frames not
    detected at all. Their *swap* (a joint of another person) is the tracker jumping to someone else, which
    `breaks.track_breaks` cuts out of real tracks; it is not simulated inside a window.

    Default rates come from `examples/data/sports2d_demo_raw.json` (MediaPipe Pose / BlazePose on a
    30 fps video, 221 detected frames of 230; `examples/real_video.py --stats` recomputes them), at the
    video's frame rate (per frame at 30 fps; runs are converted to window frames for half-rate windows):
    - confidence: a latent score per joint and frame, distributed as the sample's visibility (quantiles
      above), correlated between consecutive frames like it (lag-1 correlation of its normal scores 0.96).
    - joint misses: the least confident `joint_miss_rate` of joint-frames get no detection. 8.7% of the
      sample's joint-frames have visibility < 0.3, the score below which `posedenoise denoise` treats a
      joint as missing by default. Missing low confidence makes misses come in runs, as in the sample.
    - frame misses: 9 of the 230 frames have no detection (3.9%) in runs of 1 to 3 frames (mean 1.8).
    - shifts: the chapter's N(0, (3k)^2) per coordinate, times 1 + shift_gain x (1 - confidence). In the
      sample the robust spread of a joint's second difference grows 3.3-fold from visibility > 0.99 to
      visibility < 0.3 (least-squares gain 2.7; we take 3; mean factor over the detected joints: 1.26).
    - swaps (left/right inversions), each chain of `SWAP_GROUPS` separately: the sample's limb chains
      invert in runs of 1, 2, 5, 9, 29 and 38 frames (mean 14); the legs are inverted in about a third of
      its frames, the arms in 2%. We take 10% per chain (Ronchi and Perona find inversions less common
      than jitter and misses), with runs of 14 frames on average. Whole-body inversions (every left/right
      pair): one 5-frame run in the sample (frames 68-72, shoulders and arms), 2%.
    - outliers: a detection anywhere on the 56 x 56 crop. 1% of the sample's joint-frames lie more than
      20% of the body's size from the median of their 5-frame neighbourhood; such jumps are 3.5 times as
      common at visibility < 0.5 as at > 0.9, which weighting by 1 + outlier_gain x (1 - confidence)
      reproduces with a gain of about 4.
    Each swap, frame miss and joint miss is a run of frames: a two-state Markov chain per window with the
    given stationary share of frames and mean run length (a run shorter than a frame cannot be: at most
    one transition per frame).
    """

    confidence_quantiles: tuple[float, ...] = REAL_VISIBILITY_QUANTILES  # latent confidence distribution
    confidence_correlation: float = 0.96  # between consecutive video frames (AR(1) on normal scores)
    shift_gain: float = 3.0  # shift std = 3k x (1 + shift_gain x (1 - confidence))
    joint_miss_rate: float = 0.087  # share of joint-frames not detected (the least confident ones)
    frame_miss_rate: float = 0.04  # share of frames without any detection
    frame_miss_frames: float = 1.8  # mean length of a run of missed frames (video frames)
    swap_rate: float = 0.10  # share of frames in which a limb chain (SWAP_GROUPS) is left/right inverted
    swap_frames: float = 14.0  # mean length of a limb inversion (video frames)
    body_swap_rate: float = 0.02  # share of frames in which every left/right pair is inverted
    body_swap_frames: float = 5.0  # mean length of a whole-body inversion (video frames)
    outlier_rate: float = 0.01  # share of detected joint-frames placed anywhere on the grid
    outlier_gain: float = 4.0  # outlier odds weight 1 + outlier_gain x (1 - confidence)

    def __post_init__(self) -> None:
        q = np.asarray(self.confidence_quantiles, dtype=np.float64)
        if q.ndim != 1 or len(q) < 2 or (np.diff(q) < 0).any() or q.min() < 0 or q.max() > 1:
            raise PoseDenoiseError("confidence_quantiles must be at least 2 non-decreasing values in [0, 1]")
        for name in ("joint_miss_rate", "frame_miss_rate", "swap_rate", "body_swap_rate", "outlier_rate"):
            if not 0 <= getattr(self, name) < 1:
                raise PoseDenoiseError(
                    f"realistic noise: {name} must be in [0, 1), got {getattr(self, name)}"
                )
        for name in ("frame_miss_frames", "swap_frames", "body_swap_frames"):
            if not getattr(self, name) >= 1:
                raise PoseDenoiseError(f"realistic noise: {name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.confidence_correlation < 1:
            raise PoseDenoiseError("realistic noise: confidence_correlation must be in [0, 1)")
        if self.shift_gain < 0 or self.outlier_gain < 0:
            raise PoseDenoiseError("realistic noise: shift_gain and outlier_gain must be >= 0")

    def confidence(self, u: torch.Tensor) -> torch.Tensor:
        """The confidence at probability levels `u` in [0, 1]: the quantile function, linear in between."""
        q = torch.tensor(self.confidence_quantiles, dtype=torch.float32, device=u.device)
        pos = u.clamp(0, 1) * (len(q) - 1)
        lo = pos.floor().long().clamp_(max=len(q) - 2)
        return torch.lerp(q[lo], q[lo + 1], pos - lo)

    def mean_outlier_weight(self, grid: int = 4096) -> float:
        """E[1 + outlier_gain (1 - c)] over detected joints (u >= joint_miss_rate), for the normalisation
        that makes `outlier_rate` the share of detected joint-frames that are outliers."""
        u = self.joint_miss_rate + (1 - self.joint_miss_rate) * (torch.arange(grid) + 0.5) / grid
        return float((1 + self.outlier_gain * (1 - self.confidence(u))).mean())


@dataclass
class RealisticDraws:
    """Standard draws for the realistic profile; the chapter's part is exactly `eval_noise`'s or
    `train_noise`'s, so the shifts of a window are the chapter's, scaled by confidence."""

    base: NoiseDraws  # z (N, T, K, 2) and sigma_index (N,)
    confidence: torch.Tensor | np.ndarray  # (N, T, K) standard normal innovations of the confidence
    frame: torch.Tensor | np.ndarray  # (N, T) uniform: frame-miss chain
    swap: torch.Tensor | np.ndarray  # (N, T, G + 1) uniform: one chain per SWAP_GROUPS entry, then the body
    outlier: torch.Tensor | np.ndarray  # (N, T, K) uniform: whether a detection is an outlier
    outlier_xy: torch.Tensor | np.ndarray  # (N, T, K, 2) uniform: where it lands on the grid


def eval_realistic_noise(seed: int, step: int, split: str, n: int, joints: int = 25) -> RealisticDraws:
    """Deterministic realistic draws for the first `n` windows of a split: `eval_noise`'s two streams and
    five more keyed by (seed, step, split), so window i's draws do not depend on n."""
    key = [seed, step, SPLITS[split]]
    t, g = WINDOW, len(SWAP_GROUPS) + 1

    def stream(i: int) -> np.random.Generator:
        return np.random.default_rng([*key, i])

    return RealisticDraws(
        base=eval_noise(seed, step, split, n, joints),
        confidence=stream(2).standard_normal((n, t, joints)).astype(np.float32),
        frame=stream(3).random((n, t), dtype=np.float32),
        swap=stream(4).random((n, t, g), dtype=np.float32),
        outlier=stream(5).random((n, t, joints), dtype=np.float32),
        outlier_xy=stream(6).random((n, t, joints, 2), dtype=np.float32),
    )


def train_realistic_noise(
    generator: torch.Generator,
    batch: int,
    joints: int = 25,
    device: torch.device | str = "cpu",
    frames: int = WINDOW,
) -> RealisticDraws:
    """Fresh realistic draws for one training batch (any number of frames) from a device generator."""
    g = len(SWAP_GROUPS) + 1

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(shape, generator=generator, device=device)

    z = torch.randn((batch, frames, joints, 2), generator=generator, device=device)
    sigma_index = torch.randint(0, len(SIGMA_CHOICES), (batch,), generator=generator, device=device)
    return RealisticDraws(
        base=NoiseDraws(z=z, sigma_index=sigma_index),
        confidence=torch.randn((batch, frames, joints), generator=generator, device=device),
        frame=uniform(batch, frames),
        swap=uniform(batch, frames, g),
        outlier=uniform(batch, frames, joints),
        outlier_xy=uniform(batch, frames, joints, 2),
    )


def index_draws(draws: RealisticDraws, idx) -> RealisticDraws:
    """The draws of windows `idx` (fixed training noise)."""
    return RealisticDraws(
        base=NoiseDraws(draws.base.z[idx], draws.base.sigma_index[idx]),
        confidence=draws.confidence[idx],
        frame=draws.frame[idx],
        swap=draws.swap[idx],
        outlier=draws.outlier[idx],
        outlier_xy=draws.outlier_xy[idx],
    )


def draws_to(draws: RealisticDraws, device: torch.device | str) -> RealisticDraws:
    def move(x):
        return torch.as_tensor(x).to(device)

    return RealisticDraws(
        base=NoiseDraws(move(draws.base.z), move(draws.base.sigma_index)),
        confidence=move(draws.confidence),
        frame=move(draws.frame),
        swap=move(draws.swap),
        outlier=move(draws.outlier),
        outlier_xy=move(draws.outlier_xy),
    )


def markov_runs(u: torch.Tensor, share: float, mean_run: float) -> torch.Tensor:
    """(N, T) bool runs from uniforms `u` (N, T): a stationary two-state chain that is "on" a `share` of
    the frames, in runs of `mean_run` frames on average (geometric lengths; 1 = isolated frames).

    Leaving a run has probability 1 / mean_run per frame; entering one has probability
    share / (mean_run (1 - share)), the balance that keeps the share stationary (capped at 1).
    """
    if share <= 0:
        return torch.zeros(u.shape, dtype=torch.bool, device=u.device)
    leave = 1.0 / max(mean_run, 1.0)
    enter = min(share * leave / (1 - share), 1.0)
    state = u[:, 0] < share  # the stationary distribution at the first frame
    out = [state]
    for t in range(1, u.shape[1]):
        state = torch.where(state, u[:, t] >= leave, u[:, t] < enter)
        out.append(state)
    return torch.stack(out, dim=1)


class RealisticOutput(NamedTuple):
    noisy: torch.Tensor  # (N, T, K, 2) detector output: swapped, shifted, outliers; clipped and rounded
    sigma_in: torch.Tensor  # (N,) input blur
    input_present: torch.Tensor  # (N, T, K) bool: joints drawn in the input (a miss: all-zero heatmap)
    swapped: (
        torch.Tensor
    )  # (N, T, K) bool: the joint is inverted (detected at its partner's position if drawn)
    outlier: torch.Tensor  # (N, T, K) bool: the detection (if drawn) was placed anywhere on the grid
    confidence: torch.Tensor  # (N, T, K) latent detector confidence


def apply_realistic_noise(
    coords: torch.Tensor,
    present: torch.Tensor,
    draws: RealisticDraws,
    experiment: Experiment,
    profile: RealisticNoise | None = None,
    size: int = GRID,
) -> RealisticOutput:
    """Realistic detector output for ground-truth grid coords `(N, T, K, 2)` and presence `(N, T, K)`.

    In order: a latent confidence per joint-frame; left/right inversions (a swapped joint is detected at
    its partner's true position, and only if the partner is there); the chapter's shift scaled by the
    confidence; outliers; clip and round; misses (least confident joints and whole frames) removed from
    `input_present`, never from the ground truth. Rates are per video frame: for half-rate windows
    (experiment 3) runs last half as many window frames and the correlation spans two video frames.
    """
    profile = profile or RealisticNoise()
    device = coords.device
    n, t, k, _ = coords.shape
    step = experiment.step
    present = torch.as_tensor(present, device=device).bool()
    draws = draws_to(draws, device)
    if draws.confidence.shape != (n, t, k):
        raise ValueError(f"draws for {tuple(draws.confidence.shape)} joint-frames, coords {(n, t, k)}")

    # confidence: an AR(1) process of normal scores, mapped through the real visibility distribution
    rho = profile.confidence_correlation**step
    e = draws.confidence.float()  # (N, T, K)
    normal = [e[:, 0]]
    for i in range(1, t):
        normal.append(rho * normal[-1] + math.sqrt(1 - rho * rho) * e[:, i])
    u = 0.5 * (1 + torch.erf(torch.stack(normal, dim=1) / math.sqrt(2)))  # (N, T, K) uniform levels
    confidence = profile.confidence(u)

    # left/right inversions: one chain per limb group and one for the whole body, combined by parity
    limb_run, body_run = profile.swap_frames / step, profile.body_swap_frames / step
    chains = [markov_runs(draws.swap[..., i], profile.swap_rate, limb_run) for i in range(len(SWAP_GROUPS))]
    chains.append(markov_runs(draws.swap[..., -1], profile.body_swap_rate, body_run))
    flip = torch.as_tensor(FLIP_PAIRS[:k], device=device)  # (K,) partner of each joint
    member = torch.zeros((len(chains), k), dtype=torch.float32, device=device)  # (G + 1, K)
    for i, joints in enumerate(SWAP_GROUPS.values()):
        member[i, [j for j in joints if j < k]] = 1
    member[-1] = (flip != torch.arange(k, device=device)).float()
    swapped = (torch.stack(chains, dim=-1).float() @ member).remainder(2) > 0.5  # (N, T, K)
    source = torch.where(swapped, flip, torch.arange(k, device=device))  # (N, T, K) joint detected
    base = torch.gather(coords, 2, source.unsqueeze(-1).expand(-1, -1, -1, 2))  # (N, T, K, 2)
    detected = torch.gather(present, 2, source)  # a swapped joint exists only if its partner does

    # the chapter's shift, larger for less confident joints
    z = torch.as_tensor(draws.base.z, device=device)
    scale = experiment.shift_std * (1 + profile.shift_gain * (1 - confidence))  # (N, T, K)
    noisy = base + scale.unsqueeze(-1) * z

    # outliers, more likely at low confidence; normalised so outlier_rate is their share of detections
    weight = (1 + profile.outlier_gain * (1 - confidence)) / profile.mean_outlier_weight()
    outlier = draws.outlier < (profile.outlier_rate * weight).clamp(max=1)
    noisy = torch.where(outlier.unsqueeze(-1), draws.outlier_xy.float() * (size - 1), noisy)
    noisy = noisy.clamp_(0, size - 1).round_()

    # misses: the least confident joints, and whole frames
    joint_missed = u < profile.joint_miss_rate
    frame_missed = markov_runs(draws.frame, profile.frame_miss_rate, profile.frame_miss_frames / step)
    input_present = detected & ~joint_missed & ~frame_missed.unsqueeze(-1)

    choices = torch.tensor(experiment.sigma_choices, dtype=torch.float32, device=device)
    sigma_in = choices[torch.as_tensor(draws.base.sigma_index, device=device) % len(choices)]
    return RealisticOutput(noisy, sigma_in, input_present, swapped, outlier, confidence)


@dataclass
class RepairCounts:
    """Sums for the realistic profile's repair metrics (add them up over batches)."""

    swapped: int = 0  # swapped joint-frames (both partners in the ground truth, detection drawn)
    repaired: int = 0  # of those, predictions closer to the true joint than to the partner's position
    swap_error: float = 0.0  # sum of their prediction errors (grid px)
    gaps: int = 0  # joint-frames in the ground truth but missed in the input
    gap_error: float = 0.0  # sum of their prediction errors (grid px)

    def __iadd__(self, other: RepairCounts) -> RepairCounts:
        self.swapped += other.swapped
        self.repaired += other.repaired
        self.swap_error += other.swap_error
        self.gaps += other.gaps
        self.gap_error += other.gap_error
        return self

    @property
    def swap_repair(self) -> float:
        return self.repaired / self.swapped if self.swapped else float("nan")

    @property
    def swap_error_px(self) -> float:
        """Mean error on swapped joints: a check on `swap_repair`, which a prediction landing anywhere
        passes about half the time."""
        return self.swap_error / self.swapped if self.swapped else float("nan")

    @property
    def gap_error_px(self) -> float:
        return self.gap_error / self.gaps if self.gaps else float("nan")


def repair_counts(pred, gt, present, input_present, swapped) -> RepairCounts:
    """Swap repair and gap-filling sums of predictions `pred` (N, T, K, 2) against the ground truth `gt`
    (N, T, K, 2) with presence `present` (N, T, K), for inputs with `input_present` and `swapped` masks."""
    pred, gt = torch.as_tensor(pred).float(), torch.as_tensor(gt).float()
    present = torch.as_tensor(present, device=gt.device).bool()
    input_present = torch.as_tensor(input_present, device=gt.device).bool()
    swapped = torch.as_tensor(swapped, device=gt.device).bool()
    k = gt.shape[2]
    flip = torch.as_tensor(FLIP_PAIRS[:k], device=gt.device)
    partner = gt[:, :, flip]  # (N, T, K, 2) the partner's true position
    counted = swapped & present & present[:, :, flip] & input_present
    own = (pred - gt).norm(dim=-1)
    other = (pred - partner).norm(dim=-1)
    gaps = present & ~input_present
    return RepairCounts(
        swapped=int(counted.sum()),
        repaired=int((counted & (own < other)).sum()),
        swap_error=float(own[counted].double().sum()),
        gaps=int(gaps.sum()),
        gap_error=float(own[gaps].double().sum()),
    )


# ----------------------------------------------------------------------------------------------------------
# Noise profiles: what a run's noise setting (`TrainConfig.noise`, `--noise`) names, made once by
# `make_noise` and handed to the pipeline, the evaluation and the run folder. A new profile is one class
# here: its draws, how they become detector output, and the folder suffix of its runs.


class NoisyInput(NamedTuple):
    """Simulated detector output of a set of windows, in any profile."""

    noisy: torch.Tensor  # (N, T, K, 2) detected coords, clipped to the grid and rounded
    sigma_in: torch.Tensor  # (N,) input blur
    input_present: torch.Tensor | None = None  # (N, T, K) bool joints detected; None: the ground truth's
    swapped: torch.Tensor | None = None  # (N, T, K) bool left/right inverted joints; None: none


class NoiseProfile(ABC):
    """A detector-noise profile. Draws are standard random numbers (a profile's own type) made from a
    seeded stream and scaled only by `apply`, so that the runs of an experiment share them."""

    name: ClassVar[str]  # what `--noise` and the configs call it
    run_suffix: ClassVar[str]  # appended to a run's `<k>.<y>` folder: runs of two profiles never mix

    @classmethod
    @abstractmethod
    def from_options(cls, options: dict) -> NoiseProfile:
        """The profile with `options` (from `--noise-option`), refused when it takes no such option."""

    @property
    @abstractmethod
    def options(self) -> dict:
        """The options it was made with, as recorded in a run's config and its evaluations."""

    @abstractmethod
    def eval_draws(self, seed: int, step: int, split: str, n: int, joints: int = 25):
        """Deterministic draws for the first `n` windows of a split (window i's do not depend on n)."""

    @abstractmethod
    def train_draws(self, generator: torch.Generator, batch: int, joints: int, device: torch.device):
        """Fresh draws for one training batch from a device generator."""

    @abstractmethod
    def select(self, draws, idx):
        """The draws of windows `idx` (fixed training noise)."""

    @abstractmethod
    def to(self, draws, device: torch.device):
        """The draws as tensors on `device`."""

    @abstractmethod
    def apply(self, coords: torch.Tensor, present: torch.Tensor, draws, experiment: Experiment) -> NoisyInput:
        """Detector output for ground-truth grid coords (N, T, K, 2) with presence (N, T, K)."""

    def describe(self) -> dict[str, Any]:
        """The entries naming this profile in an evaluation (what a cached one must match)."""
        return {"noise": self.name, "noise_options": dict(self.options)}

    def evaluation_fields(self, repairs: RepairCounts) -> dict[str, Any]:
        """The entries of this profile in an evaluation; `repairs` summed over its predictions."""
        return self.describe()


NOISE_PROFILES: dict[str, type[NoiseProfile]] = {}


def register_noise_profile(cls: type[NoiseProfile]) -> type[NoiseProfile]:
    """Class decorator: make a profile available to `make_noise` (and `--noise`) under its name."""
    if cls.name in NOISE_PROFILES:
        raise ValueError(f"noise profile {cls.name!r} is already registered")
    NOISE_PROFILES[cls.name] = cls
    return cls


def make_noise(name: str = "chapter", options: dict | None = None) -> NoiseProfile:
    """The profile a run names: "chapter" (Tables 1-4) or "realistic", with `options`."""
    if name not in NOISE_PROFILES:
        raise PoseDenoiseError(f"--noise must be one of {', '.join(NOISE_PROFILES)}, got {name!r}")
    return NOISE_PROFILES[name].from_options(dict(options or {}))


@register_noise_profile
@dataclass(frozen=True)
class ChapterProfile(NoiseProfile):
    """The chapter's noise: an independent Gaussian shift of every present joint (`apply_noise`)."""

    name = "chapter"
    run_suffix = ""

    @classmethod
    def from_options(cls, options: dict) -> ChapterProfile:
        if options:
            raise PoseDenoiseError("noise options only apply to the realistic noise profile")
        return cls()

    @property
    def options(self) -> dict:
        return {}

    def eval_draws(self, seed: int, step: int, split: str, n: int, joints: int = 25) -> NoiseDraws:
        return eval_noise(seed, step, split, n, joints)

    def train_draws(self, generator, batch: int, joints: int, device) -> NoiseDraws:
        return train_noise(generator, batch, joints, device)

    def select(self, draws: NoiseDraws, idx) -> NoiseDraws:
        return NoiseDraws(draws.z[idx], draws.sigma_index[idx])

    def to(self, draws: NoiseDraws, device) -> NoiseDraws:
        return NoiseDraws(torch.as_tensor(draws.z).to(device), torch.as_tensor(draws.sigma_index).to(device))

    def apply(self, coords, present, draws: NoiseDraws, experiment: Experiment) -> NoisyInput:
        return NoisyInput(*apply_noise(coords, draws, experiment))

    def describe(self) -> dict[str, Any]:
        return {"noise": self.name}


CHAPTER = ChapterProfile()  # the default everywhere


@register_noise_profile
@dataclass(frozen=True)
class RealisticProfile(NoiseProfile):
    """`RealisticNoise` with the overrides of its rates a run was given (`apply_realistic_noise`)."""

    name = "realistic"
    run_suffix = "-realistic"
    overrides: dict = field(default_factory=dict)  # RealisticNoise field -> value, as given
    rates: RealisticNoise = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.overrides) - set(RealisticNoise.__dataclass_fields__))
        if unknown:
            raise PoseDenoiseError(
                f"unknown realistic noise option(s) {', '.join(unknown)}; valid options: "
                + ", ".join(RealisticNoise.__dataclass_fields__)
            )
        fields = dict(self.overrides)
        if "confidence_quantiles" in fields:
            fields["confidence_quantiles"] = tuple(float(v) for v in fields["confidence_quantiles"])
        object.__setattr__(self, "rates", RealisticNoise(**fields))

    @classmethod
    def from_options(cls, options: dict) -> RealisticProfile:
        return cls(dict(options))

    @property
    def options(self) -> dict:
        return self.overrides

    def eval_draws(self, seed: int, step: int, split: str, n: int, joints: int = 25) -> RealisticDraws:
        return eval_realistic_noise(seed, step, split, n, joints)

    def train_draws(self, generator, batch: int, joints: int, device) -> RealisticDraws:
        return train_realistic_noise(generator, batch, joints, device)

    def select(self, draws: RealisticDraws, idx) -> RealisticDraws:
        return index_draws(draws, idx)

    def to(self, draws: RealisticDraws, device) -> RealisticDraws:
        return draws_to(draws, device)

    def apply(self, coords, present, draws: RealisticDraws, experiment: Experiment) -> NoisyInput:
        out = apply_realistic_noise(coords, present, draws, experiment, self.rates)
        return NoisyInput(out.noisy, out.sigma_in, out.input_present, out.swapped)

    def evaluation_fields(self, repairs: RepairCounts) -> dict[str, Any]:
        """Besides the profile: the share of swapped joints repaired and the errors on swapped and missed
        joints, with the joint-frames they count."""
        return {
            **self.describe(),
            "swap_repair": json_float(repairs.swap_repair),
            "swap_error_px": json_float(repairs.swap_error_px),
            "gap_error_px": json_float(repairs.gap_error_px),
            "swapped_joints": repairs.swapped,
            "gap_joints": repairs.gaps,
        }
