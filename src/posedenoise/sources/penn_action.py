"""Penn Action (Zhang et al., 2013): 2,326 sports clips with 13 annotated joints per frame.

Official layout (only the labels are needed; the frames are not read)::

    Penn_Action/
      labels/0001.mat ... 2326.mat

Each `.mat` holds `x`, `y` (T x 13 pixel coordinates, sometimes stored as integers), `visibility`
(T x 13, 1 = visible), `bbox`, `dimensions`, `nframes`, `action` (a string), `pose` and `train`.
Joint order: head, left/right shoulder, elbow, wrist, hip, knee, ankle (`layout.PENN13`).

Invisible joints are discarded (chapter 1.1: their placement is inconsistent), the head is used as the
nose, and the clips are 30 fps (the dataset has no frame-rate field; all its clips are 30 fps).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import scipy.io

from posedenoise.errors import InputError
from posedenoise.layout import PENN13, PENN13_TO_25, to_layout25
from posedenoise.sources import Track

PENN_ACTION_FPS = 30.0
REQUIRED_FIELDS = ("x", "y", "visibility")


def _labels_dir(root: str | Path) -> Path:
    """The folder holding the `.mat` files: `root/labels`, `root` itself, or `root/Penn_Action/labels`."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "Penn Action folder not found")
    for candidate in (root / "labels", root / "Penn_Action" / "labels", root):
        if candidate.is_dir() and any(candidate.glob("*.mat")):
            return candidate
    raise InputError(root, "no Penn Action label files (labels/NNNN.mat) found")


def find_penn_action(root: str | Path) -> list[Path]:
    """The label files of a Penn Action copy, sorted by name (cheap: no file is opened)."""
    return sorted(_labels_dir(root).glob("*.mat"))


def _action_name(value) -> str | None:
    # loadmat gives a MATLAB char array as a 1-element str array (or a char matrix / cell in odd copies)
    array = np.asarray(value)
    if array.size == 0:
        return None
    if array.dtype.kind in "US":
        return "".join(str(s) for s in array.ravel()).strip() or None
    if array.dtype == object:
        return _action_name(array.ravel()[0])
    return None


def read_penn_action_file(path: str | Path) -> Track:
    """One Penn Action label file as a `Track` (name = file stem, frames 1..T)."""
    path = Path(path)
    try:
        mat = scipy.io.loadmat(path, squeeze_me=False)
    except Exception as error:  # scipy raises ValueError, TypeError, OSError, ... on corrupt files
        raise InputError(path, f"not a readable MATLAB file ({type(error).__name__}: {error})") from None
    missing = [name for name in REQUIRED_FIELDS if name not in mat]
    if missing:
        raise InputError(path, f"missing field(s) {', '.join(missing)}")

    arrays = {}
    for name in REQUIRED_FIELDS:
        array = np.asarray(mat[name])
        if array.dtype.kind not in "biuf":
            raise InputError(path, f"field '{name}' is not numeric (dtype {array.dtype})")
        if array.ndim == 1:  # a single frame saved without its row dimension
            array = array[None, :]
        if array.ndim != 2:
            raise InputError(path, f"field '{name}' has shape {array.shape}, expected (frames, 13)")
        if array.shape[1] != len(PENN13):
            raise InputError(path, f"field '{name}' has {array.shape[1]} joints, expected {len(PENN13)}")
        arrays[name] = array
    x, y, visibility = arrays["x"], arrays["y"], arrays["visibility"]
    if not (x.shape == y.shape == visibility.shape):
        raise InputError(path, f"x, y and visibility shapes differ: {x.shape}, {y.shape}, {visibility.shape}")
    num_frames = x.shape[0]
    if num_frames == 0:
        raise InputError(path, "no frames")

    coords13 = np.stack([x, y], axis=-1).astype(np.float64)  # (T, 13, 2); integers in some files
    visible13 = visibility != 0  # (T, 13)
    if not np.isfinite(coords13[visible13]).all():
        raise InputError(path, "NaN or infinite coordinates on visible joints")

    coords, has_joint = to_layout25(coords13, PENN13_TO_25)  # (T, 25, 2)
    present = np.zeros((num_frames, len(has_joint)), dtype=bool)
    present[:, has_joint] = visible13[:, PENN13_TO_25[has_joint]]
    coords[~present] = 0.0  # invisible joints are discarded, not kept as hidden guesses

    track = Track(
        name=path.stem,
        source="penn_action",
        fps=PENN_ACTION_FPS,
        coords=coords,
        present=present,
        frames=np.arange(1, num_frames + 1, dtype=np.int64),
        action=_action_name(mat["action"]) if "action" in mat else None,
    )
    return track.validate(path)


def load_penn_action(root: str | Path) -> Iterator[Track]:
    """Yield one `Track` per Penn Action clip under `root` (the Penn_Action folder or its labels folder).

    Raises `InputError` for a missing folder, a folder without label files, and any unreadable or
    malformed label file (naming the file).
    """
    for path in find_penn_action(root):
        yield read_penn_action_file(path)


__all__ = ["PENN_ACTION_FPS", "find_penn_action", "load_penn_action", "read_penn_action_file"]
