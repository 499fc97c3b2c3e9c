"""Atomic writes: write to a temporary name beside the target, then rename.

A crash or an error half-way leaves the previous file (or nothing) in place, never a truncated one.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from posedenoise.errors import PoseDenoiseError, os_error_message


def current_umask() -> int:
    """The process umask. POSIX only lets it be read by setting it, so it is set and put back at once
    (the window is two system calls; posedenoise writes files from one thread)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def default_mode(folder: bool = False) -> int:
    """The mode `open()` or `mkdir()` would give a new file (0666) or folder (0777) under the umask.

    `tempfile.mkstemp`/`mkdtemp` create 0600/0700 whatever the umask; what is renamed into place gets
    the ordinary mode instead, so results stay readable to whoever the user's umask lets read them.
    """
    return (0o777 if folder else 0o666) & ~current_umask()


TEMP_SUFFIX = ".tmp"


def temp_prefix(name: str) -> str:
    """Prefix of the temporary names `atomic_path` writes beside a target called `name`."""
    return f".{name}."


def check_target(path: str | Path) -> Path:
    """Refuse, before any work, a file target that cannot be written: an existing folder, or a path
    under a file. (Permissions and disk space show only when writing; `atomic_path` names those.)"""
    path = Path(path)
    if path.is_dir():
        raise PoseDenoiseError(f"{path}: is a folder; give the name of a file to write")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise PoseDenoiseError(f"{parent}: is a file, but a folder is needed there")
            break
    return path


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto `path` if the block succeeds.

    An existing folder at `path` is refused (never replaced), and a failed write (no permission, a full
    disk, a file where a folder should be) raises a PoseDenoiseError naming `path`; the temporary file
    is removed either way.
    """
    path = Path(path)
    if path.is_dir():
        raise PoseDenoiseError(f"{path}: is a folder; give the name of a file to write")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path.name), suffix=TEMP_SUFFIX, dir=path.parent)
        os.close(fd)
        os.chmod(tmp, default_mode())
    except OSError as exc:
        raise PoseDenoiseError(os_error_message(exc, path, "cannot write")) from None
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except OSError as exc:
        raise PoseDenoiseError(os_error_message(exc, path, "cannot write")) from None
    finally:
        with contextlib.suppress(OSError):
            tmp_path.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def json_float(x: float | None) -> float | None:
    """A number as JSON has it: NaN and infinities (nothing counted) become null."""
    return None if x is None or not math.isfinite(x) else float(x)


def write_json(path: str | Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def save_npz(path: str | Path, **arrays: np.ndarray) -> None:
    """np.savez (uncompressed: the prepared arrays are small and loading must be fast)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def save_torch(path: str | Path, obj: Any) -> None:
    import torch

    with atomic_path(path) as tmp:
        try:
            torch.save(obj, tmp)
        except RuntimeError as exc:  # torch's zip writer reports a full disk as a RuntimeError
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise PoseDenoiseError(f"{path}: cannot write ({first})") from None


def stale_temp_files(folder: str | Path, names: tuple[str, ...]) -> list[Path]:
    """Temporary files `atomic_path` left in `folder` beside the targets `names` when its process was
    killed (kill -9 runs no cleanup): exactly `.<name>.<8 characters of mkstemp>.tmp`, nothing else."""
    pattern = re.compile(
        r"\.(?:" + "|".join(map(re.escape, names)) + r")\.[a-z0-9_]{8}" + re.escape(TEMP_SUFFIX)
    )
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if pattern.fullmatch(p.name) and p.is_file())


def remove_stale_temp_files(folder: str | Path, names: tuple[str, ...]) -> list[Path]:
    """Delete `stale_temp_files(folder, names)`; returns what was removed."""
    removed = []
    for path in stale_temp_files(folder, names):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed
