"""Checks of the numbers a user gives (options, config fields): one-line errors naming the option.

Every check refuses instead of adjusting: a value outside its range is an error, never silently changed.
Counts are capped at 2^31 - 1 (frame numbers are stored as int32; no window count comes near it) and
seeds at 2^32 - 1 (what every random generator used here accepts).
"""

from __future__ import annotations

import math
import numbers

from posedenoise.errors import PoseDenoiseError

MAX_COUNT = 2**31 - 1
MAX_SEED = 2**32 - 1
MAX_FRAME = 2**31 - 1  # frame numbers: a prepared dataset stores them as int32


def whole(option: str, value, low: int = 0, high: int = MAX_COUNT) -> int:
    """`value` as an int in [low, high]; PoseDenoiseError naming `option` otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise PoseDenoiseError(f"{option} must be a whole number, got {value!r}")
    value = int(value)
    if not low <= value <= high:
        bound = f"at least {low}" if high == MAX_COUNT else f"from {low} to {high}"
        raise PoseDenoiseError(f"{option} must be a whole number {bound}, got {value}")
    return value


def number(
    option: str,
    value,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    above: bool = False,
) -> float:
    """`value` as a finite float in [low, high] (in (low, high] with `above`); PoseDenoiseError otherwise.

    NaN and infinities are always refused: no option here has a meaning for them.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise PoseDenoiseError(f"{option} must be a number, got {value!r}")
    value = float(value)
    in_range = (value > low if above else value >= low) and value <= high
    if not math.isfinite(value) or not in_range:
        if high == math.inf:
            bound = f"above {low:g}" if above else f"at least {low:g}"
        elif above:
            bound = f"above {low:g} and at most {high:g}"
        else:
            bound = f"from {low:g} to {high:g}"
        raise PoseDenoiseError(f"{option} must be a finite number {bound}, got {value:g}")
    return value


def seed(option: str, value) -> int:
    return whole(option, value, 0, MAX_SEED)


def frame_number_problem(value) -> str | None:
    """Why `value` (a number read from a file) is not a usable frame number, or None if it is."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return f"frame number {value!r} is not a number"
    if isinstance(value, float) and not math.isfinite(value):
        return f"frame number {value} is not finite"
    if value != int(value):
        return f"frame number {value!r} is not a whole number"
    if not -MAX_FRAME <= int(value) <= MAX_FRAME:
        return f"frame number {value:g} is out of range (at most {MAX_FRAME:,} either way)"
    return None


__all__ = ["MAX_COUNT", "MAX_FRAME", "MAX_SEED", "frame_number_problem", "number", "seed", "whole"]
