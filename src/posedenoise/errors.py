"""User-facing errors.

Every problem a user can cause (a missing file, a corrupt `.mat`, a wrong joint count, NaN coordinates)
is raised as a `PoseDenoiseError`. The CLI turns it into one line on stderr and a non-zero exit code;
library users catch it like any exception. Programming errors stay ordinary exceptions.
"""

from __future__ import annotations

from pathlib import Path


class PoseDenoiseError(Exception):
    """An error whose message is fit to show a user as one line."""


class InputError(PoseDenoiseError):
    """Bad input: names the file and the problem."""

    def __init__(self, path: str | Path | None, problem: str):
        self.path = None if path is None else Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}" if path is not None else problem)
