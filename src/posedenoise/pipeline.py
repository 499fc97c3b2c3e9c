"""From the prepared dataset to model inputs: windows -> detector noise -> heatmaps, on the device.

Heatmaps are never stored (a dense copy of the chapter's data is hundreds of GB): coordinates live on the
device and each batch is rendered there. Rendering writes into buffers reused across batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields

import numpy as np
import torch

from posedenoise.constants import GRID
from posedenoise.dataset import PreparedDataset
from posedenoise.heatmaps import render
from posedenoise.noise import CHAPTER, SIGMA_OUT, Experiment, NoiseProfile


@dataclass
class WindowArrays:
    """Ground truth of a set of windows (numpy)."""

    starts: np.ndarray  # (N,) first frame rows
    gt_coords: np.ndarray  # (N, 5, 25, 2) float32 grid pixels
    present: np.ndarray  # (N, 5, 25) bool
    torso: np.ndarray  # (N, 5) float32, NaN where undefined


def window_arrays(ds: PreparedDataset, step: int, split: str, limit: int | None = None) -> WindowArrays:
    starts = ds.split_window_starts(step, split, limit)
    rows = ds.window_rows(starts, step)  # (N, 5)
    return WindowArrays(
        starts=starts, gt_coords=ds.coords[rows], present=ds.present[rows], torso=ds.torso[rows]
    )


@dataclass
class EvalInputs:
    """A split's windows with their deterministic simulated detector output."""

    experiment: Experiment
    starts: np.ndarray  # (N,)
    gt_coords: np.ndarray  # (N, 5, 25, 2) float32
    present: np.ndarray  # (N, 5, 25) bool
    torso: np.ndarray  # (N, 5) float32
    noisy_coords: np.ndarray  # (N, 5, 25, 2) float32, rounded and clipped
    sigma_in: np.ndarray  # (N,) float32
    noise: NoiseProfile = CHAPTER  # the detector-noise profile that made noisy_coords
    input_present: np.ndarray | None = None  # (N, 5, 25) bool joints drawn in the input; None: `present`
    swapped: np.ndarray | None = None  # (N, 5, 25) bool left/right inverted joints; None: none

    def __len__(self) -> int:
        return len(self.starts)


def eval_inputs(
    ds: PreparedDataset,
    experiment: Experiment,
    split: str,
    seed: int | None = None,
    limit: int | None = None,
    noise: NoiseProfile = CHAPTER,
) -> EvalInputs:
    """Windows of `split` with `noise` (the chapter's by default: Tables 1-4) that depends only on (seed,
    step, split, window position)."""
    seed = ds.seed if seed is None else seed
    w = window_arrays(ds, experiment.step, split, limit)
    draws = noise.eval_draws(seed, experiment.step, split, len(w.starts))
    out = noise.apply(torch.from_numpy(w.gt_coords), torch.from_numpy(w.present), draws, experiment)
    return EvalInputs(
        experiment=experiment,
        starts=w.starts,
        gt_coords=w.gt_coords,
        present=w.present,
        torso=w.torso,
        noisy_coords=out.noisy.numpy(),
        sigma_in=out.sigma_in.numpy(),
        noise=noise,
        input_present=None if out.input_present is None else out.input_present.numpy(),
        swapped=None if out.swapped is None else out.swapped.numpy(),
    )


@dataclass
class Batch:
    x: torch.Tensor  # (B, 5, 25, 56, 56) noisy input heatmaps
    target: torch.Tensor  # (B, 5, 25, 56, 56) ground-truth heatmaps (sigma_out)
    gt_coords: torch.Tensor  # (B, 5, 25, 2) float grid pixels
    present: torch.Tensor  # (B, 5, 25) bool
    torso: torch.Tensor  # (B, 5) float
    noisy_coords: torch.Tensor  # (B, 5, 25, 2)
    input_present: torch.Tensor | None = None  # (B, 5, 25) bool, realistic noise: joints drawn in x
    swapped: torch.Tensor | None = None  # (B, 5, 25) bool, realistic noise: left/right inverted joints

    def split(self, size: int) -> list[Batch]:
        """Consecutive parts of at most `size` windows (views, no copies); [self] when it fits."""
        n = len(self.x)
        if size >= n:
            return [self]

        def part(t: torch.Tensor | None, sl: slice) -> torch.Tensor | None:
            # per-window fields are cut; an empty placeholder (training batches have no torso) is kept
            return t if t is None or len(t) != n else t[sl]

        names = [f.name for f in fields(self)]
        return [
            Batch(**{name: part(getattr(self, name), slice(i, i + size)) for name in names})
            for i in range(0, n, size)
        ]


class HeatmapRenderer:
    """Renders batches into two reused buffers per batch size (input and target)."""

    def __init__(self, device: torch.device | str):
        self.device = torch.device(device)
        self._buffers: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def __call__(
        self, gt, present, noisy, sigma_in, reuse: bool = True, input_present=None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """input_present: joints drawn in the input maps (default `present`; a missed detection is an
        all-zero input map while the target keeps the joint)."""
        b = gt.shape[0]
        if reuse:
            if b not in self._buffers:
                shape = (*gt.shape[:-1], GRID, GRID)
                self._buffers[b] = (
                    torch.empty(shape, device=self.device),
                    torch.empty(shape, device=self.device),
                )
            xbuf, tbuf = self._buffers[b]
        else:
            xbuf = tbuf = None
        drawn = present if input_present is None else input_present
        x = render(noisy, drawn, sigma_in[:, None], out=xbuf)  # (B, 5, 25, 56, 56)
        target = render(gt, present, SIGMA_OUT, out=tbuf)  # (B, 5, 25, 56, 56)
        return x, target


def iterate_batches(
    inputs: EvalInputs,
    batch_size: int,
    device: torch.device | str = "cpu",
    reuse_buffers: bool = True,
    rank: int = 0,
    world_size: int = 1,
) -> Iterator[Batch]:
    """Evaluation batches in window order. With reuse_buffers the yielded maps are overwritten by the next
    batch: consume them before advancing. Under DDP each rank gets every world_size-th batch, and only
    renders those."""
    device = torch.device(device)
    renderer = HeatmapRenderer(device)
    gt_all = torch.from_numpy(inputs.gt_coords)
    for i in range(rank * batch_size, len(inputs), world_size * batch_size):
        sl = slice(i, i + batch_size)
        gt = gt_all[sl].to(device)
        present = torch.from_numpy(inputs.present[sl]).to(device)
        noisy = torch.from_numpy(inputs.noisy_coords[sl]).to(device)
        sigma_in = torch.from_numpy(inputs.sigma_in[sl]).to(device)
        input_present = swapped = None
        if inputs.input_present is not None:
            input_present = torch.from_numpy(inputs.input_present[sl]).to(device)
            swapped = torch.from_numpy(inputs.swapped[sl]).to(device)
        x, target = renderer(gt, present, noisy, sigma_in, reuse=reuse_buffers, input_present=input_present)
        torso = torch.from_numpy(inputs.torso[sl]).to(device)
        yield Batch(x, target, gt, present, torso, noisy, input_present, swapped)


class TrainWindows:
    """The training split on the device, with noise redrawn every epoch (or fixed, as in the chapter).

    Shards across DDP ranks: every rank walks the same seeded permutation and takes every world-th batch
    slice, so together the ranks cover the epoch once.
    """

    def __init__(
        self,
        ds: PreparedDataset,
        experiment: Experiment,
        *,
        seed: int,
        batch_size: int = 16,
        limit: int | None = None,
        fixed_noise: bool = False,
        device: torch.device | str = "cpu",
        rank: int = 0,
        world_size: int = 1,
        noise: NoiseProfile = CHAPTER,
    ):
        self.experiment = experiment
        self.noise = noise
        self.seed = seed
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.rank, self.world_size = rank, world_size
        starts = ds.split_window_starts(experiment.step, "train", limit)
        self.n = len(starts)
        # windows are rows into the dataset's frames, gathered per batch; on the CPU the frames are the
        # dataset's own arrays, not copies (a copy per window cost 1.1 KB each: 220 MB at full scale)
        self.rows = torch.from_numpy(ds.window_rows(starts, experiment.step)).to(self.device)  # (N, 5)
        self.frame_coords = torch.from_numpy(ds.coords).to(self.device)  # (F, 25, 2)
        self.frame_present = torch.from_numpy(ds.present).to(self.device)  # (F, 25)
        self.fixed = None  # one draw per window for the whole run (the chapter's recipe)
        if fixed_noise:
            self.fixed = noise.to(noise.eval_draws(seed, experiment.step, "train", self.n), self.device)
        self.renderer = HeatmapRenderer(self.device)

    def _batch_count(self) -> int:
        """Batches per epoch over all ranks; under DDP a multiple of the world size, so that no rank
        waits in an all-reduce for a batch another rank does not have (a distributed drop-last)."""
        full = -(-self.n // self.batch_size)
        return full - full % self.world_size if self.world_size > 1 else full

    def __len__(self) -> int:
        """Batches per epoch on this rank."""
        return self._batch_count() // self.world_size if self.world_size > 1 else self._batch_count()

    def epoch(self, epoch: int) -> Iterator[Batch]:
        g_cpu = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order = torch.randperm(self.n, generator=g_cpu).to(self.device)
        g_noise = torch.Generator(device=self.device).manual_seed(
            self.seed * 1_000_033 + epoch * 7919 + self.rank
        )
        batches = range(0, self._batch_count() * self.batch_size, self.batch_size)
        for j, i in enumerate(batches):
            if j % self.world_size != self.rank:
                continue
            idx = order[i : i + self.batch_size]
            rows = self.rows[idx]  # (B, 5)
            gt, present = self.frame_coords[rows], self.frame_present[rows]  # (B, 5, 25, 2), (B, 5, 25)
            if self.fixed is not None:
                draws = self.noise.select(self.fixed, idx)
            else:
                draws = self.noise.train_draws(g_noise, len(idx), gt.shape[2], self.device)
            out = self.noise.apply(gt, present, draws, self.experiment)
            x, target = self.renderer(gt, present, out.noisy, out.sigma_in, input_present=out.input_present)
            empty = torch.empty(0, device=self.device)  # training batches need no torso
            yield Batch(x, target, gt, present, empty, out.noisy, out.input_present, out.swapped)
