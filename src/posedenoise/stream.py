"""Live filtering, one person at a time: push a frame, get back the frames that are ready.

    stream = TrackStream("oneeuro", fps=30, num_keypoints=17)
    for keypoints, scores in frames_of_one_person:        # (K, 2) pixels, (K,) scores
        for ready in stream.push(keypoints, scores):
            show(ready.frame, ready.keypoints)            # (K, 2)
    for ready in stream.flush():                          # the last `delay` frames, at the end
        show(ready.frame, ready.keypoints)

`delay` is the number of frames that must arrive after a frame before it is returned: 0 for One Euro
(causal), half the window for Savitzky-Golay, the kernel radius for the Gaussian (centred windows). The
zero-phase filters (Butterworth, forward-backward One Euro, Kalman/RTS) read the whole track and cannot
stream. Parameters are those of `posedenoise.filters` (seconds and Hz).

For a track without missing joints, the streamed output equals `filters.run_filter` on the whole track
(One Euro exactly; Savitzky-Golay and Gaussian up to float rounding, edges included, once the track is
at least one window long). A missing joint (NaN, or a score below `min_score`) is where they differ: the
offline filters interpolate across a gap using the detection after it, which a live filter has not seen;
here One Euro returns NaN for the joint and keeps its state until the joint is seen again, and the
centred filters interpolate inside their window only.

Several people: one `TrackStream` per track id (see `examples/stream_jsonl.py`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from posedenoise import filters
from posedenoise.errors import PoseDenoiseError

STREAMABLE: tuple[str, ...] = ("oneeuro", "savgol", "gaussian")


@dataclass
class ReadyFrame:
    """A filtered frame: its number (0, 1, ... in push order unless given) and keypoints (K, 2)."""

    frame: Any
    keypoints: np.ndarray


class TrackStream:
    """One person's keypoints filtered as they arrive (see the module docstring)."""

    def __init__(
        self, filter: str, fps: float, num_keypoints: int, min_score: float = 0.0, **params: Any
    ) -> None:
        self.params = filters.resolve(filter, params)
        filters.check(filter, self.params, fps)
        if filter not in STREAMABLE or (filter == "oneeuro" and self.params["zero_phase"]):
            raise PoseDenoiseError(
                f"{filter} reads the whole track and cannot stream; use one of {', '.join(STREAMABLE)}"
            )
        self.filter, self.fps, self.num_keypoints, self.min_score = (
            filter,
            float(fps),
            num_keypoints,
            min_score,
        )
        self.delay = filters.delay_frames(filter, fps, **self.params)
        self._count = 0
        self._frames: list[Any] = []  # frame labels not yet returned, and the window before them
        self._window: list[np.ndarray] = []  # the last (2 * delay + 1) inputs, (K, 2) each
        # One Euro state per coordinate
        self._out = np.full((num_keypoints, 2), np.nan)
        self._speed = np.zeros((num_keypoints, 2))

    def push(
        self, keypoints: np.ndarray, scores: np.ndarray | None = None, frame: Any = None
    ) -> list[ReadyFrame]:
        """Add the next frame's keypoints (K, 2) (NaN: missing) and scores (K,); return the ready frames."""
        x = np.array(keypoints, dtype=np.float64).reshape(self.num_keypoints, 2)
        if scores is not None:
            low = np.asarray(scores, dtype=np.float64).reshape(self.num_keypoints) < self.min_score
            x[low] = np.nan
        label = self._count if frame is None else frame
        self._count += 1
        if self.filter == "oneeuro":
            return [ReadyFrame(label, self._one_euro(x))]
        self._window.append(x)
        self._frames.append(label)
        size = 2 * self.delay + 1
        if len(self._window) < size:
            return []
        if len(self._window) > size:
            self._window.pop(0)
        out = self._filtered()
        if self._count == size:  # the first full window: its first half is ready too
            ready = [ReadyFrame(f, out[i]) for i, f in enumerate(self._frames[: self.delay + 1])]
            self._frames = self._frames[self.delay + 1 :]
            return ready
        return [ReadyFrame(self._frames.pop(0), out[self.delay])]

    def flush(self) -> list[ReadyFrame]:
        """At the end of the track: the frames still held back."""
        if self.filter == "oneeuro" or not self._frames:
            return []
        out = self._filtered()
        held = self._frames
        self._frames = []
        return [ReadyFrame(f, out[len(out) - len(held) + i]) for i, f in enumerate(held)]

    def _filtered(self) -> np.ndarray:
        window = np.stack(self._window)  # (W, K, 2)
        return filters.run_filter(self.filter, window, self.fps, **self.params)

    def _one_euro(self, x: np.ndarray) -> np.ndarray:
        """One step of the One Euro filter, the same arithmetic as `smoothers.one_euro`."""
        p = self.params
        dt = 1.0 / self.fps

        def alpha(cutoff):
            tau = 1.0 / (2 * math.pi * cutoff)
            return 1.0 / (1.0 + tau / dt)

        seen = np.isfinite(x)
        first = seen & ~np.isfinite(self._out)
        raw_speed = np.where(seen & ~first, (x - self._out) / dt, 0.0)
        speed = self._speed + alpha(p["d_cutoff"]) * (raw_speed - self._speed)
        a = alpha(p["min_cutoff"] + p["beta"] * np.abs(speed))
        step = self._out + a * (x - self._out)
        self._speed = np.where(seen & ~first, speed, self._speed)
        self._out = np.where(first, x, np.where(seen, step, self._out))
        return np.where(seen, self._out, np.nan)


__all__ = ["STREAMABLE", "ReadyFrame", "TrackStream"]
