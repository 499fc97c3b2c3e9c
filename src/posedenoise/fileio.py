"""Atomic writes: write to a temporary name beside the target, then rename.

A crash or an error half-way leaves the previous file (or nothing) in place, never a truncated one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np


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


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto `path` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path.name), suffix=TEMP_SUFFIX, dir=path.parent)
    os.close(fd)
    os.chmod(tmp, default_mode())
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def save_npz(path: str | Path, **arrays: np.ndarray) -> None:
    """np.savez (uncompressed: the prepared arrays are small and loading must be fast)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)


def save_torch(path: str | Path, obj: Any) -> None:
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
