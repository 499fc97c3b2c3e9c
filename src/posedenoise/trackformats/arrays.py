"""NumPy arrays (`npy`, `npz`): one person, read, and written back with only x, y replaced.

An array `(T, K, 2 | 3)` (x, y[, score]); NaN coordinates mark a missing joint. In an `.npz` the array is
`keypoints` (or `coords`, `poses`, or the only 3-D array); an optional `frames` array `(T,)` gives frame
numbers; the other arrays are kept.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from posedenoise import checks, fileio
from posedenoise.errors import InputError
from posedenoise.tracks import PersonTrack, TrackFile, TrackFormat, check_keypoint_values, layout_of

ARRAY_KEYS = ("keypoints", "coords", "poses")


def read(path: Path, doc: None, layout: str | None, min_iou: float, max_age: int) -> TrackFile:
    """One person's track from an array file (`min_iou`, `max_age`: unused, one person)."""
    try:
        if path.suffix.lower() == ".npy":
            arrays = {"": np.load(path, allow_pickle=False)}
            key = ""
        else:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
            key = next((n for n in ARRAY_KEYS if n in arrays), None)
            if key is None:
                three_d = [n for n, a in arrays.items() if a.ndim == 3]
                if len(three_d) != 1:
                    raise InputError(
                        path, f"no (T, K, 2|3) array named {' or '.join(ARRAY_KEYS)} among {list(arrays)}"
                    )
                key = three_d[0]
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(path, f"not a readable NumPy file ({str(exc).splitlines()[0]})") from None
    arr = arrays[key]
    if arr.ndim != 3 or arr.shape[-1] not in (2, 3) or arr.shape[0] == 0:
        raise InputError(path, f"array has shape {arr.shape}, expected (T, K, 2) or (T, K, 3) with T >= 1")
    if not np.issubdtype(arr.dtype, np.number):
        raise InputError(path, f"array has dtype {arr.dtype}, expected numbers")
    t, k = arr.shape[:2]
    layout = layout_of(path, k, layout)
    values = arr.astype(np.float64)
    xy = values[..., :2].copy()
    if arr.shape[-1] == 3:
        scores = np.nan_to_num(values[..., 2], nan=0.0)
    else:
        scores = np.isfinite(xy).all(axis=-1).astype(np.float64)  # NaN marks a missing joint
    check_keypoint_values(path, "array", xy, scores)
    frames = np.arange(t, dtype=np.int64)
    if "frames" in arrays and key != "frames":
        frames = np.asarray(arrays["frames"])
        if frames.shape != (t,) or not np.issubdtype(frames.dtype, np.integer):
            raise InputError(
                path, f"'frames' has shape {frames.shape} and dtype {frames.dtype}, expected ({t},) ints"
            )
        if t and np.abs(frames.astype(np.float64)).max() > checks.MAX_FRAME:
            raise InputError(path, f"'frames' holds numbers out of range (at most {checks.MAX_FRAME:,})")
        if t > 1 and not (np.diff(frames) > 0).all():
            raise InputError(path, "'frames' is not strictly increasing")
    track = PersonTrack(0, frames, xy, scores, np.arange(t))
    fmt = "npy" if path.suffix.lower() == ".npy" else "npz"
    return TrackFile(path, fmt, layout, [track], None, [], {"arrays": arrays, "key": key})


# ----------------------------------------------------------------------------------------------- writing


def write(track_file: TrackFile, path: Path) -> None:
    """The arrays as read, the keypoint array's x, y replaced where the track has a finite estimate."""
    fmt = track_file.format
    arrays = dict(track_file.source["arrays"])
    key = track_file.source["key"]
    arr = arrays[key].copy()
    kp = track_file.tracks[0].keypoints
    ok = np.isfinite(kp).all(axis=-1)
    arr[..., :2][ok] = kp[ok].astype(arr.dtype)
    arrays[key] = arr
    with fileio.atomic_path(path) as tmp, open(tmp, "wb") as f:
        if fmt == "npy":
            np.save(f, arr)
        else:
            np.savez(f, **arrays)


NPY = TrackFormat("npy", ".npy", read, write)
NPZ = TrackFormat("npz", ".npz", read, write)
