"""Simulated keypoint-detector noise (SPEC section 6, chapter 1.1 and 1.2.2).

The chapter's profile: every present joint of every frame is shifted by an independent draw from
N(0, (3k)^2) per coordinate, clipped to the grid, rounded, and drawn with an input blur sigma_in.

Noise is expressed as standard-normal draws `z` and a sigma index, scaled only when applied, so that the
k = 1 and k = 2 runs of an experiment see the same draws at two magnitudes. Validation and test noise is
a pure function of (seed, step, split, position of the window in its split): identical for every model,
whatever `--limit` is. Training noise is redrawn each epoch from a generator seeded by (seed, epoch).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from posedenoise.errors import PoseDenoiseError

WINDOW = 5  # frames per window (chapter 1.2.1)
GRID = 56  # heatmap side
SIGMA_OUT = 1.0  # ground-truth blur
SIGMA_CHOICES = (1.0, 1.5, 2.0, 2.5, 3.0)  # input blur choices of experiments 1 and 3
SHIFT_SCALE = 3.0  # shift std = 3 k grid pixels
SPLITS = {"train": 0, "val": 1, "test": 2}


@dataclass(frozen=True)
class Experiment:
    """One of the chapter's six settings, named `k.y`."""

    shift: int  # k: shifting scalar, shift std = 3k px
    experiment: int  # y: 1 random sigma_in, 2 sigma_in = 1, 3 half frame rate + random sigma_in

    def __post_init__(self) -> None:
        if self.shift not in (1, 2):
            raise PoseDenoiseError(f"shift must be 1 or 2, got {self.shift}")
        if self.experiment not in (1, 2, 3):
            raise PoseDenoiseError(f"experiment must be 1, 2 or 3, got {self.experiment}")

    @property
    def name(self) -> str:
        return f"{self.shift}.{self.experiment}"

    @property
    def step(self) -> int:
        return 2 if self.experiment == 3 else 1

    @property
    def sigma_choices(self) -> tuple[float, ...]:
        return (1.0,) if self.experiment == 2 else SIGMA_CHOICES

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


def eval_noise(seed: int, step: int, split: str, n: int, joints: int = 25) -> NoiseDraws:
    """Deterministic draws for the first `n` windows of a split (numpy; the same for every model).

    Two independent streams (shifts, sigmas) keyed by (seed, step, split), so window i gets the same draws
    whatever n is: numpy fills arrays in order, the first i rows do not depend on how many follow.
    """
    key = [seed, step, SPLITS[split]]
    z = np.random.default_rng([*key, 0]).standard_normal((n, WINDOW, joints, 2)).astype(np.float32)
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
