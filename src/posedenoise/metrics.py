"""PCK, the chapter's accuracy metric (chapter 1.3-1.4).

A predicted joint is correct when its distance to the ground-truth joint is at most alpha x the frame's
torso diameter. Only present joints of frames whose torso diameter is defined (finite) are counted; the
overall figure pools every counted joint (micro average), so a joint seen twice as often weighs twice as
much. Predictions are the argmax of the model's heatmaps (DeciWatch: its coordinates); ground truth is
the float grid coordinate.

`PCKAccumulator` keeps integer hit and count sums per joint, so evaluating batch by batch gives exactly
the one-shot result.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

DEFAULT_ALPHAS: tuple[float, ...] = (0.05, 0.1, 0.2)


@dataclass(frozen=True)
class PCKResult:
    """PCK at one threshold alpha."""

    alpha: float
    overall: float  # hits / counted over all joints, in [0, 1]; NaN when nothing was counted
    per_joint: np.ndarray  # (K,) float64 accuracy per joint, NaN for a joint never counted
    counted: int  # number of (frame, joint) pairs counted
    mean_threshold: float  # mean of alpha x torso over the counted joints, grid pixels; NaN if none
    hits: np.ndarray  # (K,) int64 correct predictions per joint
    counts: np.ndarray  # (K,) int64 counted (frame, joint) pairs per joint

    def group(self, joints: Iterable[int]) -> float:
        """Pooled accuracy over a set of joints (a report group); NaN when none of them was counted."""
        joints = list(joints)
        n = int(self.counts[joints].sum())
        return float(self.hits[joints].sum()) / n if n else float("nan")


def _to_numpy(a: np.ndarray | torch.Tensor, dtype) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=dtype)


class PCKAccumulator:
    """Exact streaming PCK: sums of hits and counts per joint over any number of batches."""

    def __init__(self, num_joints: int, alphas: Sequence[float] = DEFAULT_ALPHAS):
        self.num_joints = num_joints
        self.alphas = tuple(float(a) for a in alphas)
        self.hits = np.zeros((len(self.alphas), num_joints), dtype=np.int64)  # (A, K)
        self.counts = np.zeros(num_joints, dtype=np.int64)  # (K,)
        self.torso_sum = 0.0  # sum of the torso diameter over counted joints (threshold = alpha x torso)

    def update(
        self,
        pred: np.ndarray | torch.Tensor,
        gt: np.ndarray | torch.Tensor,
        present: np.ndarray | torch.Tensor,
        torso: np.ndarray | torch.Tensor,
    ) -> None:
        """Add a batch: pred/gt `(..., K, 2)`, present `(..., K)` bool, torso `(...)` (NaN = undefined)."""
        pred = _to_numpy(pred, np.float64)
        gt = _to_numpy(gt, np.float64)
        present = _to_numpy(present, bool)
        torso = _to_numpy(torso, np.float64)
        k = self.num_joints
        if pred.shape != gt.shape or pred.shape[-2:] != (k, 2):
            raise ValueError(f"pred {pred.shape} and gt {gt.shape} must both be (..., {k}, 2)")
        if present.shape != pred.shape[:-1] or torso.shape != pred.shape[:-2]:
            raise ValueError(f"present {present.shape} / torso {torso.shape} do not match pred {pred.shape}")

        pred = pred.reshape(-1, k, 2)  # (F, K, 2)
        gt = gt.reshape(-1, k, 2)
        torso = torso.reshape(-1)  # (F,)
        counted = present.reshape(-1, k) & np.isfinite(torso)[:, None]  # (F, K)
        distance = np.linalg.norm(pred - gt, axis=-1)  # (F, K); NaN prediction -> never correct
        safe_torso = np.where(np.isfinite(torso), torso, 0.0)
        for i, alpha in enumerate(self.alphas):
            correct = counted & (distance <= alpha * safe_torso[:, None])
            self.hits[i] += correct.sum(axis=0)
        self.counts += counted.sum(axis=0)
        self.torso_sum += float((counted * safe_torso[:, None]).sum())

    def result(self) -> dict[float, PCKResult]:
        """alpha -> PCKResult for everything added so far."""
        total = int(self.counts.sum())
        out: dict[float, PCKResult] = {}
        with np.errstate(invalid="ignore", divide="ignore"):
            for i, alpha in enumerate(self.alphas):
                hits = self.hits[i].copy()
                per_joint = np.where(self.counts > 0, hits / self.counts, np.nan)
                out[alpha] = PCKResult(
                    alpha=alpha,
                    overall=float(hits.sum()) / total if total else float("nan"),
                    per_joint=per_joint,
                    counted=total,
                    mean_threshold=alpha * self.torso_sum / total if total else float("nan"),
                    hits=hits,
                    counts=self.counts.copy(),
                )
        return out


def pck(
    pred: np.ndarray | torch.Tensor,
    gt: np.ndarray | torch.Tensor,
    present: np.ndarray | torch.Tensor,
    torso: np.ndarray | torch.Tensor,
    alphas: Sequence[float] = DEFAULT_ALPHAS,
) -> Mapping[float, PCKResult]:
    """PCK at each alpha of predictions against ground truth.

    pred/gt `(..., K, 2)` grid pixels, present `(..., K)` bool, torso `(...)` (NaN: undefined);
    numpy or torch. Returns alpha -> PCKResult (`overall`, `per_joint`, `counted`, `mean_threshold`).
    """
    acc = PCKAccumulator(int(np.shape(pred)[-2]), alphas)
    acc.update(pred, gt, present, torso)
    return acc.result()
