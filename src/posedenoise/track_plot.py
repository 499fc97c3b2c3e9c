"""`denoise --plot`: chosen joints of the longest track before and after, x and y over time."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from posedenoise import fileio
from posedenoise.errors import PoseDenoiseError

DEFAULT_JOINTS = ("left_wrist", "right_wrist", "left_ankle", "right_ankle")


def choose_joints(names: tuple[str, ...], wanted: list[str] | None) -> list[int]:
    """Indices of the wanted joint names (or numbers); default: wrists and ankles, else the first four."""
    if wanted:
        out = []
        for w in wanted:
            if w in names:
                out.append(names.index(w))
            elif w.isdigit() and int(w) < len(names):
                out.append(int(w))
            else:
                shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
                raise PoseDenoiseError(f"--plot-joints: no joint {w!r} in this layout ({shown})")
        return out
    found = [names.index(n) for n in DEFAULT_JOINTS if n in names]
    return found or list(range(min(4, len(names))))


def plot_joints(
    path: str | Path,
    frames: np.ndarray,
    before: np.ndarray,
    after: np.ndarray,
    names: tuple[str, ...],
    joints: list[int],
    title: str,
    segment_starts: list[int] | None = None,
) -> None:
    """Draw x and y of `joints` over `frames`: before (dots) and after (line). before/after (T, K, 2).

    The line is broken where a segment starts (`segment_starts`, indices) and across frames without a
    detection, so that it never suggests smoothing between two people or over a gap.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only; no display needed
    import matplotlib.pyplot as plt

    path = Path(path)
    if path.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise PoseDenoiseError(f"--plot {path}: expected a .png, .pdf or .svg file")
    frames = np.asarray(frames)
    cut = np.zeros(len(frames), dtype=bool)
    cut[list(segment_starts or [])] = True
    cut[1:] |= np.diff(frames) > 1
    line_frames = np.insert(frames.astype(np.float64), np.flatnonzero(cut), np.nan)
    line = np.insert(np.asarray(after, dtype=np.float64), np.flatnonzero(cut), np.nan, axis=0)
    fig, axes = plt.subplots(
        len(joints), 2, figsize=(11, 2.2 * len(joints) + 0.6), sharex=True, squeeze=False
    )
    for row, j in enumerate(joints):
        for c, axis in enumerate("xy"):
            ax = axes[row, c]
            ax.plot(frames, before[:, j, c], ".", ms=3, color="0.55", label="before")
            ax.plot(line_frames, line[:, j, c], "-", lw=1.4, color="C0", label="after")
            ax.set_ylabel(f"{names[j]} {axis} (px)", fontsize=8)
            ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=7, loc="best")
    for ax in axes[-1]:
        ax.set_xlabel("frame", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    with fileio.atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix[1:].lower(), dpi=110)
    plt.close(fig)


__all__ = ["DEFAULT_JOINTS", "choose_joints", "plot_joints"]
