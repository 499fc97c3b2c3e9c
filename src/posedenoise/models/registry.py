"""The model registry (timm-like): `@register_model` above each builder, in the model's own file;
`create_model(name, **options)`, `list_models(...)`, `model_info(name)`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from posedenoise.errors import PoseDenoiseError


@dataclass(frozen=True)
class _Entry:
    factory: Callable[..., nn.Module]
    display_name: str  # as in the chapter's tables
    config: type  # the dataclass whose fields are the factory's options
    input: str  # "windows": 5-frame heatmap windows (the chapter's); "tracks": whole tracks of coordinates
    study: bool  # one of the chapter's trainable architectures (the 24-run grid, Tables 1-4)
    table_order: int  # study models: position in the chapter's tables


INPUTS = ("windows", "tracks")


_REGISTRY: dict[str, _Entry] = {}


def register_model(
    name: str,
    *,
    display_name: str,
    config: type,
    input: str = "windows",
    study: bool = False,
    table_order: int = 0,
) -> Callable:
    """Decorator registering `factory(**options) -> nn.Module` under `name` (see `_Entry` for the fields).
    Put it above the model's builder in the model's own file; `posedenoise.models` imports every model
    file, so a new model is one new file plus its line there."""

    def decorate(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        if not dataclasses.is_dataclass(config):
            raise TypeError(f"config of model {name!r} must be a dataclass")
        if input not in INPUTS:
            raise ValueError(f"input of model {name!r} must be one of {INPUTS}")
        _REGISTRY[name] = _Entry(factory, display_name, config, input, study, table_order)
        return factory

    return decorate


def list_models(input: str | None = None, study: bool | None = None) -> list[str]:
    """The registered model names, sorted; only those taking `input` and/or (not) in the study if given."""
    return sorted(
        name
        for name, e in _REGISTRY.items()
        if (input is None or e.input == input) and (study is None or e.study == study)
    )


def study_models() -> tuple[str, ...]:
    """The chapter's trainable architectures, in the order of its tables."""
    study = [(e.table_order, name) for name, e in _REGISTRY.items() if e.study]
    return tuple(name for _, name in sorted(study))


def display_name(name: str) -> str:
    return _entry(name).display_name


def model_input(name: str) -> str:
    """ "windows" or "tracks" (see `_Entry`)."""
    return _entry(name).input


def _entry(name: str) -> _Entry:
    if name not in _REGISTRY:
        raise PoseDenoiseError(f"unknown model {name!r}; valid models: {', '.join(list_models())}")
    return _REGISTRY[name]


def model_options(name: str) -> dict[str, object]:
    """The options `name` accepts, with their defaults."""
    return {f.name: f.default for f in dataclasses.fields(_entry(name).config)}


_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def parse_model_options(name: str, pairs: dict[str, str]) -> dict[str, object]:
    """Options of model `name` given as text (`--model-option KEY=VALUE`), converted to the type of each
    option's default (bool: true/false, yes/no, on/off, 1/0)."""
    valid = model_options(name)
    unknown = sorted(set(pairs) - set(valid))
    if unknown:
        raise PoseDenoiseError(
            f"unknown option(s) {', '.join(unknown)} for model {name!r}; valid options: "
            f"{', '.join(valid) if valid else 'none'}"
        )
    options: dict[str, object] = {}
    for key, text in pairs.items():
        kind = type(valid[key])
        value = text.strip()
        if kind is bool:
            if value.lower() not in _TRUE + _FALSE:
                raise PoseDenoiseError(f"model option {key} of {name!r}: {text!r} is not true or false")
            options[key] = value.lower() in _TRUE
            continue
        try:
            options[key] = kind(value) if kind in (int, float) else value
        except ValueError:
            raise PoseDenoiseError(
                f"model option {key} of {name!r}: {text!r} is not {'an' if kind is int else 'a'} "
                f"{'integer' if kind is int else 'number'}"
            ) from None
    return options


def create_model(name: str, **options) -> nn.Module:
    """Build model `name` with `options` overriding its config defaults (weights Glorot-initialised from
    torch's global RNG: seed with `torch.manual_seed` for reproducible weights)."""
    entry = _entry(name)
    valid = model_options(name)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        accepted = ", ".join(valid) if valid else "none"
        raise PoseDenoiseError(
            f"unknown option(s) {', '.join(unknown)} for model {name!r}; valid options: {accepted}"
        )
    return entry.factory(**options)


@dataclass(frozen=True)
class ModelSummary:
    name: str  # registry / CLI name
    display_name: str  # as in the chapter's tables
    output_kind: str  # "heatmaps" or "coords"
    num_params: int  # at the default options
    options: dict  # option -> default


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def model_info(name: str) -> ModelSummary:
    """Name, display name, output kind and parameter count (at defaults) of model `name`."""
    entry = _entry(name)
    with torch.random.fork_rng(devices=[]):  # building the model must not move the caller's RNG
        model = entry.factory()
    return ModelSummary(
        name, entry.display_name, model.output_kind, count_parameters(model), model_options(name)
    )


def model_summaries() -> list[ModelSummary]:
    """`model_info` of every registered model, in `list_models()` order."""
    return [model_info(name) for name in list_models()]
