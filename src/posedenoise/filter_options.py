"""The options of `denoise`'s classic path: filter parameters, presets and config files.

Kept free of numpy and scipy so that the command line can show every default in `--help` without
loading them. The filters themselves are in `posedenoise.filters`.

Precedence, lowest first: each parameter's default, the preset, the config file, the command line.

Presets (`PRESETS`), for common motions; the cutoffs follow the biomechanics practice of a low-pass
Butterworth at a few Hz above the motion's own frequencies:
- `gait`:   walking and everyday movement: Butterworth 6 Hz, order 4, after Hampel outlier rejection.
- `sports`: fast movement (sprints, throws, jumps): Butterworth 10 Hz, order 4, after Hampel.
- `slow`:   slow or static exercises (yoga, rehabilitation, posture): Butterworth 3 Hz, order 4, after
            Hampel.
- `gappy`:  detections that come and go: Kalman/RTS (noise 4 px at score 1, acceleration 3000 px/s^2),
            which follows the detector's confidence and bridges gaps with the motion, after Hampel.
- `live`:   as a live filter would run: causal One Euro (1 Hz, beta 0.05, 1 Hz), no rejection.

A config file is TOML, its keys those of the command line with `_` for `-` (at the top level or under
`[denoise]`), e.g.

    preset = "gait"
    cutoff = 8.0          # Hz
    min_score = 0.5
    fill_missing = true
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from posedenoise.errors import InputError, PoseDenoiseError


@dataclass(frozen=True)
class Param:
    """A tunable parameter: its keyword name, default, unit and one-line meaning (shown in --help)."""

    name: str
    default: Any
    unit: str  # "s", "Hz", "px", "px/s^2" or "" (a plain number)
    help: str

    @property
    def value(self) -> str:
        """`value unit` as --help and the summary print it."""
        value = str(self.default).lower() if isinstance(self.default, bool) else f"{self.default:g}"
        return f"{value}{' ' + self.unit if self.unit else ''}"

    @property
    def shown(self) -> str:
        """`name value unit`."""
        return f"{self.name} {self.value}"


# Defaults chosen for whole tracks at any frame rate (see docs in the README's denoise section).
FILTER_PARAMS: dict[str, tuple[Param, ...]] = {
    "savgol": (
        Param("window_s", 0.4, "s", "window length (odd number of frames nearest to it, at least 3)"),
        Param("polyorder", 2, "", "polynomial order"),
    ),
    "gaussian": (Param("sigma_s", 0.05, "s", "kernel standard deviation"),),
    "oneeuro": (
        Param("min_cutoff", 1.0, "Hz", "cutoff at rest (lower: smoother slow motion)"),
        Param("beta", 0.05, "", "cutoff increase per px/s of speed (higher: less lag)"),
        Param("d_cutoff", 1.0, "Hz", "cutoff of the speed estimate"),
        Param("zero_phase", False, "", "run forward then backward (no lag; offline only)"),
    ),
    "butterworth": (
        Param("cutoff", 6.0, "Hz", "low-pass cutoff"),
        Param("order", 4, "", "filter order (doubled by the forward-backward pass)"),
    ),
    "kalman": (
        Param("noise_px", 4.0, "px", "measurement noise (std) of a joint scored 1; divided by the score"),
        Param("accel", 3000.0, "px/s^2", "process noise: std of the acceleration"),
    ),
}
FILTERS: tuple[str, ...] = tuple(FILTER_PARAMS)

REJECT_PARAMS: dict[str, tuple[Param, ...]] = {
    "hampel": (
        Param("reject_window_s", 0.25, "s", "window (odd number of frames, at least 3)"),
        Param("n_sigmas", 3.0, "", "robust standard deviations from the median that make an outlier"),
    ),
    "median": (Param("reject_window_s", 0.25, "s", "window (odd number of frames, at least 3)"),),
}
REJECTS: tuple[str, ...] = tuple(REJECT_PARAMS)


DEFAULT_MIN_SCORE = 0.3  # joints scored lower are missing
DEFAULT_JUMP = 0.5  # split a track where the body moves this many body sizes between frames
DEFAULT_MAX_GAP = 10  # split a track at gaps longer than this many frames

# Each preset: the filter, its parameters, and the outlier rejection before it (None: none).
PRESETS: dict[str, dict[str, Any]] = {
    "gait": {"filter": "butterworth", "cutoff": 6.0, "order": 4, "reject": "hampel"},
    "sports": {"filter": "butterworth", "cutoff": 10.0, "order": 4, "reject": "hampel"},
    "slow": {"filter": "butterworth", "cutoff": 3.0, "order": 4, "reject": "hampel"},
    "gappy": {"filter": "kalman", "noise_px": 4.0, "accel": 3000.0, "reject": "hampel"},
    "live": {"filter": "oneeuro", "min_cutoff": 1.0, "beta": 0.05, "d_cutoff": 1.0, "reject": None},
}

# Keys a config file may hold besides the filter parameters: the other options of `denoise`.
GENERAL_KEYS = {
    "filter": str,
    "preset": str,
    "reject": str,
    "min_score": float,
    "fill_missing": bool,
    "fps": float,
    "layout": str,
    "jump": float,
    "max_gap": int,
    "repair_swaps": bool,
}


def param_keys() -> dict[str, Param]:
    """Every filter and rejection parameter by name (a name means the same in every filter)."""
    out: dict[str, Param] = {}
    for table in (*FILTER_PARAMS.values(), *REJECT_PARAMS.values()):
        for p in table:
            out.setdefault(p.name, p)
    return out


def load_config(path: str | Path) -> dict[str, Any]:
    """The options in a TOML config file, checked against the known keys."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        raise InputError(path, "config files need Python 3.11 or later (tomllib)") from None
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "config file not found")
    try:
        doc = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not valid TOML ({str(exc).splitlines()[0]})") from None
    if isinstance(doc.get("denoise"), dict):
        doc = {**{k: v for k, v in doc.items() if k != "denoise"}, **doc["denoise"]}
    known = param_keys()
    for key, value in doc.items():
        if key in GENERAL_KEYS:
            kind = GENERAL_KEYS[key]
            ok = isinstance(value, kind) or (kind is float and isinstance(value, int))
            if isinstance(value, bool) and kind is not bool:
                ok = False
            if not ok:
                raise InputError(path, f"{key} must be a {kind.__name__}, got {value!r}")
        elif key not in known:
            raise InputError(path, f"unknown key {key!r}")
        elif isinstance(known[key].default, bool) != isinstance(value, bool) or not isinstance(
            value, (bool, int, float)
        ):
            kind = "true or false" if isinstance(known[key].default, bool) else "a number"
            raise InputError(path, f"{key} must be {kind}, got {value!r}")
    return dict(doc)


def merge_options(command_line: dict[str, Any], config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Options from the preset, then the config file, then the command line (None: not given there).

    Returns the general options (`filter`, `reject`, ... as given) and `filter_params` /
    `reject_params` holding only the parameters that belong to the chosen filter / rejection; a
    parameter given for another filter is an error.
    """
    given = {k: v for k, v in command_line.items() if v is not None}
    config = dict(config or {})
    preset_name = given.get("preset", config.get("preset"))
    preset: dict[str, Any] = {}
    if preset_name is not None:
        if preset_name not in PRESETS:
            raise PoseDenoiseError(f"unknown preset {preset_name!r}; choose one of {', '.join(PRESETS)}")
        preset = PRESETS[preset_name]
    merged: dict[str, Any] = {**preset, **config, **given}
    merged.pop("preset", None)
    params = {k: merged.pop(k) for k in list(merged) if k in param_keys()}
    filter_name, reject = merged.get("filter"), merged.get("reject")
    if filter_name is not None and filter_name not in FILTER_PARAMS:
        raise PoseDenoiseError(f"unknown filter {filter_name!r}; choose one of {', '.join(FILTERS)}")
    if reject is not None and reject not in REJECT_PARAMS:
        raise PoseDenoiseError(f"unknown outlier rejection {reject!r}; choose one of {', '.join(REJECTS)}")
    own = {p.name for p in FILTER_PARAMS.get(filter_name, ())}
    own_reject = {p.name for p in REJECT_PARAMS.get(reject, ())}
    # a preset's parameters follow its filter: dropped when another filter is chosen over it
    from_preset = {k for k in params if k in preset and k not in config and k not in given}
    stray = sorted(k for k in params if k not in own | own_reject and k not in from_preset)
    if stray:
        what = f"--filter {filter_name}" if filter_name else "a model (give --filter or --preset)"
        if reject:
            what += f" or --reject {reject}"
        raise PoseDenoiseError(f"{', '.join('--' + s.replace('_', '-') for s in stray)} not used by {what}")
    merged["filter_params"] = {k: v for k, v in params.items() if k in own}
    merged["reject_params"] = {k: v for k, v in params.items() if k in own_reject}
    return merged


def help_defaults() -> str:
    """One line per filter with its default parameters, for --help."""
    lines = []
    for name, table in FILTER_PARAMS.items():
        lines.append(f"{name}: " + ", ".join(p.shown for p in table))
    for name, table in REJECT_PARAMS.items():
        lines.append(f"--reject {name}: " + ", ".join(p.shown for p in table))
    return "; ".join(lines)


def help_presets() -> str:
    """The presets and their settings, for --help."""
    shown = []
    for name, preset in PRESETS.items():
        settings = [f"{k} {'none' if v is None else v}" for k, v in preset.items()]
        shown.append(f"{name}: {', '.join(settings)}")
    return "; ".join(shown)


__all__ = [
    "DEFAULT_JUMP",
    "DEFAULT_MAX_GAP",
    "DEFAULT_MIN_SCORE",
    "FILTERS",
    "FILTER_PARAMS",
    "PRESETS",
    "REJECTS",
    "REJECT_PARAMS",
    "Param",
    "help_defaults",
    "help_presets",
    "load_config",
    "merge_options",
    "param_keys",
]
