"""Data sources: each turns a dataset on disk (or a generator) into per-video 25-joint `Track`s."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from posedenoise.checks import MAX_FRAME
from posedenoise.errors import InputError
from posedenoise.layout import NUM_JOINTS


@dataclass
class Track:
    """One video's pose track in the 25-joint layout, in image pixels."""

    name: str  # unique within its source (Penn Action "0001", BRACE "<video_id>_<start>-<end>")
    source: str  # "penn_action" | "brace" | "synthetic" | "custom"
    fps: float  # frames per second of this video (BRACE differs per video)
    coords: np.ndarray  # (T, 25, 2) float64 pixel (x, y); arbitrary where not present
    present: np.ndarray  # (T, 25) bool: joint annotated and visible in this frame
    frames: np.ndarray  # (T,) int64 frame numbers, increasing; a gap breaks windows
    action: str | None = None  # action label where the source has one

    def __post_init__(self) -> None:
        self.coords = np.asarray(self.coords, dtype=np.float64)
        self.present = np.asarray(self.present, dtype=bool)
        self.frames = np.asarray(self.frames, dtype=np.int64)

    def validate(self, path=None) -> Track:
        """Check shapes and values; raise InputError naming `path` (or the track) on a problem."""
        where = path if path is not None else f"{self.source}:{self.name}"
        t = len(self.frames)
        if self.coords.shape != (t, NUM_JOINTS, 2):
            raise InputError(where, f"coordinates have shape {self.coords.shape}, expected ({t}, 25, 2)")
        if self.present.shape != (t, NUM_JOINTS):
            raise InputError(where, f"presence mask has shape {self.present.shape}, expected ({t}, 25)")
        if not np.isfinite(self.coords[self.present]).all():
            raise InputError(where, "NaN or infinite coordinates on joints marked present")
        if t and np.abs(self.frames).max() > MAX_FRAME:
            big = int(self.frames[np.abs(self.frames).argmax()])
            raise InputError(where, f"frame number {big:,} is out of range (at most {MAX_FRAME:,})")
        if t > 1 and not (np.diff(self.frames) > 0).all():
            raise InputError(where, "frame numbers are not strictly increasing")
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise InputError(where, f"invalid frame rate {self.fps!r}")
        return self


__all__ = ["Track"]
