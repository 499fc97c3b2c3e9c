"""User-facing errors.

Every problem a user can cause (a missing file, a corrupt `.mat`, a wrong joint count, NaN coordinates)
is raised as a `PoseDenoiseError`. The CLI turns it into one line on stderr and a non-zero exit code;
library users catch it like any exception. Programming errors stay ordinary exceptions.
"""

from __future__ import annotations

import errno
from pathlib import Path


class PoseDenoiseError(Exception):
    """An error whose message is fit to show a user as one line."""


class InputError(PoseDenoiseError):
    """Bad input: names the file and the problem."""

    def __init__(self, path: str | Path | None, problem: str):
        self.path = None if path is None else Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}" if path is not None else problem)


_OS_PROBLEMS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOENT: "no such file or folder",
    errno.EISDIR: "is a folder, expected a file",
    errno.ENOTEMPTY: "folder is not empty",
    errno.EEXIST: "already exists",
}


def os_error_message(exc: OSError, path: str | Path | None = None, action: str | None = None) -> str:
    """One line naming the path and what went wrong for an OSError (a failed read or write).

    `path` is what the user named (the target of a write), used instead of the error's own file name,
    which may be a temporary file beside it; `action` ("cannot write") goes before the problem. A file
    standing where a folder is needed is found and named.
    """
    where = path if path is not None else exc.filename
    problem = _OS_PROBLEMS.get(exc.errno, exc.strerror or type(exc).__name__)
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        for name in (exc.filename, where):
            blocker = _file_in_the_way(Path(name)) if name is not None else None
            if blocker is not None:
                return f"{blocker}: is a file, but a folder is needed there"
    if action:
        problem = f"{action} ({problem})"
    if where is None:
        return f"{problem}: {exc}" if exc.strerror is None else problem
    return f"{where}: {problem}"


def _file_in_the_way(path: Path) -> Path | None:
    """The path itself or its nearest ancestor that exists as something other than a folder."""
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return None if candidate.is_dir() else candidate
    return None
