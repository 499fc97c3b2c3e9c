"""Reading the prepared dataset."""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from posedenoise.constants import SPLITS, WINDOW
from posedenoise.errors import InputError
from posedenoise.layout import NUM_JOINTS
from posedenoise.prepare import FORMAT_VERSION, manifest_of


@dataclass
class PreparedDataset:
    """The arrays of a prepared folder. Frames are rows; a window is a start row and a step."""

    path: Path
    manifest: dict
    coords: np.ndarray  # (F, 25, 2) float32 grid pixels
    present: np.ndarray  # (F, 25) bool
    torso: np.ndarray  # (F,) float32, NaN where undefined
    video: np.ndarray  # (F,) int32 row of videos.csv
    frame: np.ndarray  # (F,) int32 frame number in its video
    starts: dict[int, np.ndarray]  # step -> (N,) int64 first rows
    splits: dict[int, np.ndarray]  # step -> (N,) int8 split labels
    videos: pd.DataFrame

    @classmethod
    def load(cls, path: str | Path) -> PreparedDataset:
        path = Path(path)
        if not path.is_dir():
            raise InputError(path, "prepared dataset folder not found; run `posedenoise prepare` first")
        manifest = manifest_of(path)
        if manifest.get("format_version") != FORMAT_VERSION:
            raise InputError(
                path / "manifest.json",
                f"format version {manifest.get('format_version')} is not {FORMAT_VERSION}; prepare again",
            )
        frames = _load_npz(path / "frames.npz", ("coords", "present", "torso", "video", "frame"))
        windows = _load_npz(
            path / "windows.npz", tuple(f"step{n}_{k}" for n in (1, 2) for k in ("start", "split"))
        )
        try:
            videos = pd.read_csv(path / "videos.csv")
        except (OSError, ValueError) as exc:
            raise InputError(path / "videos.csv", f"unreadable ({exc})") from None
        coords = frames["coords"]
        if coords.ndim != 3 or coords.shape[1:] != (NUM_JOINTS, 2):
            raise InputError(path / "frames.npz", f"coords have shape {coords.shape}, expected (F, 25, 2)")
        _check_arrays(path, frames, windows, len(videos))
        fps = pd.to_numeric(videos["fps"], errors="coerce") if "fps" in videos.columns else None
        if fps is None or not (np.isfinite(fps) & (fps > 0)).all():
            raise InputError(path / "videos.csv", "needs an fps column of positive numbers")
        return cls(
            path=path,
            manifest=manifest,
            coords=coords.astype(np.float32, copy=False),
            present=frames["present"].astype(bool, copy=False),
            torso=frames["torso"].astype(np.float32, copy=False),
            video=frames["video"],
            frame=frames["frame"],
            starts={n: windows[f"step{n}_start"] for n in (1, 2)},
            splits={n: windows[f"step{n}_split"] for n in (1, 2)},
            videos=videos,
        )

    @property
    def seed(self) -> int:
        return int(self.manifest.get("seed", 0))

    def fingerprint(self) -> str:
        """Identifies the data: changes when any array or preprocessing parameter changes."""
        text = json.dumps(self.manifest, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def split_window_starts(self, step: int, split: str, limit: int | None = None) -> np.ndarray:
        """(N,) first rows of the split's windows at `step`, in the seeded shuffled order of the split."""
        labels = self.splits[step]
        starts = self.starts[step][labels == SPLITS[split]]
        # the split order: a seeded permutation, fixed for the dataset, so `limit` takes a random subset
        order = np.random.default_rng([self.seed, step, SPLITS[split], 11]).permutation(len(starts))
        starts = starts[order]
        return starts if limit is None else starts[:limit]

    def window_rows(self, starts: np.ndarray, step: int) -> np.ndarray:
        """(N, 5) frame rows of windows starting at `starts`."""
        return starts[:, None] + step * np.arange(WINDOW)[None, :]


def _check_arrays(path: Path, frames: dict, windows: dict, n_videos: int) -> None:
    """A damaged or hand-edited preparation fails here, naming the file, not deep inside training."""
    n = len(frames["coords"])
    for key, shape in (("present", (n, NUM_JOINTS)), ("torso", (n,)), ("video", (n,)), ("frame", (n,))):
        if frames[key].shape != shape:
            raise InputError(path / "frames.npz", f"{key} has shape {frames[key].shape}, expected {shape}")
    for key in ("coords", "torso", "video", "frame"):
        if not np.issubdtype(frames[key].dtype, np.number):
            raise InputError(path / "frames.npz", f"{key} has dtype {frames[key].dtype}, expected numbers")
    if n and not np.issubdtype(frames["video"].dtype, np.integer):
        raise InputError(path / "frames.npz", "video must hold integers")
    if n and (frames["video"].min() < 0 or frames["video"].max() >= n_videos):
        raise InputError(path / "frames.npz", f"video indices outside the {n_videos} rows of videos.csv")
    present = frames["present"].astype(bool)
    if not np.isfinite(frames["coords"][present]).all():
        raise InputError(path / "frames.npz", "NaN or infinite coordinates on present joints")
    for step in (1, 2):
        starts, labels = windows[f"step{step}_start"], windows[f"step{step}_split"]
        where = path / "windows.npz"
        if starts.ndim != 1 or labels.shape != starts.shape:
            raise InputError(where, f"step{step}_start and step{step}_split differ in shape")
        if not np.issubdtype(starts.dtype, np.integer) or not np.issubdtype(labels.dtype, np.integer):
            raise InputError(where, f"step{step} windows must be integers")
        last = (WINDOW - 1) * step
        if len(starts) and (starts.min() < 0 or starts.max() + last >= n):
            raise InputError(where, f"step{step} windows reach outside the {n} frames of frames.npz")
        if len(labels) and (labels.min() < 0 or labels.max() > 2):
            raise InputError(where, f"step{step}_split holds labels other than 0, 1, 2")


def _load_npz(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    if not path.exists():
        raise InputError(path, "missing; the preparation is incomplete, run `posedenoise prepare` again")
    try:
        with np.load(path) as data:
            missing = [k for k in keys if k not in data.files]
            if missing:
                raise InputError(path, f"missing arrays {missing}")
            return {k: data[k] for k in keys}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise InputError(path, f"unreadable ({exc})") from None
