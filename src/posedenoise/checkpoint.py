"""Checkpoints: a model's weights with everything needed to rebuild and judge it.

A checkpoint is a plain dict of tensors, numbers and strings, so it loads with
`torch.load(..., weights_only=True)` (no pickled code runs). The run's config travels inside it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import torch

from posedenoise import fileio
from posedenoise.errors import InputError
from posedenoise.runs import Run

CHECKPOINT_FORMAT = "posedenoise-checkpoint"
CHECKPOINT_VERSION = 1


def save_checkpoint(path: str | Path, model: torch.nn.Module, meta: dict[str, Any], **extra: Any) -> None:
    """Atomically write `{"format", "version", "meta", "state_dict", **extra}`.

    meta holds "model", "model_options", "shift", "experiment", "seed", "epoch", "data_fingerprint",
    "train_config"; extra (for last.pt) the optimizer, schedule and RNG states and the history.
    """
    model = getattr(model, "module", model)  # unwrap DDP
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    fileio.save_torch(
        path,
        {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "meta": meta,
            "state_dict": state,
            **extra,
        },
    )


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """A checkpoint file, a run folder (its best.pt), or the name of a shipped model (`shipped`)."""
    from posedenoise.shipped import list_shipped, resolve_checkpoint

    path = resolve_checkpoint(path)
    if path.is_dir():
        path = Run(path).best
    if not path.exists():
        names = ", ".join(list_shipped()) or "none"
        raise InputError(path, f"checkpoint not found (nor a shipped model; shipped: {names})")
    if not path.is_file():
        raise InputError(path, "is not a checkpoint file (and not a run folder with best.pt)")
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive; anything else is not ours
        raise InputError(path, "not a posedenoise checkpoint (a .pt file written by `posedenoise train`)")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # damaged bytes make torch.load raise almost anything (struct.error, ...)
        text = str(exc).strip()
        if "weights only load failed" in text.lower():
            problem = "holds objects besides tensors, numbers and strings; not loaded, so no code runs"
        else:
            problem = text.splitlines()[0] if text else type(exc).__name__
        raise InputError(path, f"not a readable posedenoise checkpoint ({problem})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise InputError(path, "not a posedenoise checkpoint")
    if ckpt.get("version") != CHECKPOINT_VERSION:
        raise InputError(path, f"checkpoint version {ckpt.get('version')} is not supported")
    _check_contents(path, ckpt)
    return ckpt


def _check_contents(path: Path, ckpt: dict[str, Any]) -> None:
    """The entries every reader relies on: a damaged checkpoint fails here, naming the file."""
    meta = ckpt.get("meta")
    if not isinstance(meta, dict):
        raise InputError(path, "damaged checkpoint: no 'meta' entry (the model and its experiment)")
    if not isinstance(meta.get("model"), str):
        raise InputError(path, "damaged checkpoint: 'meta' names no model")
    for key in ("shift", "experiment"):  # the study's models have them; a track model need not
        if key in meta and (isinstance(meta[key], bool) or not isinstance(meta[key], int)):
            raise InputError(path, f"damaged checkpoint: 'meta' has no whole-number {key!r}")
    if not isinstance(meta.get("model_options", {}), dict):
        raise InputError(path, "damaged checkpoint: 'model_options' is not a dict")
    state = ckpt.get("state_dict")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(path, "damaged checkpoint: no 'state_dict' of tensors")


def load_model(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the model of a checkpoint (a file, or a run folder meaning its best.pt) in eval mode."""
    from posedenoise.models import create_model

    ckpt = read_checkpoint(path, map_location="cpu")
    meta = ckpt["meta"]
    try:
        model = create_model(meta["model"], **meta.get("model_options", {}))
    except (TypeError, ValueError) as exc:  # options of the right names but impossible values
        raise InputError(path, f"model options do not build {meta['model']!r} ({exc})") from None
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise InputError(
            path, f"weights do not fit model {meta['model']!r} ({str(exc).splitlines()[0]})"
        ) from None
    return model.to(device).eval(), meta


def load_weights_into(model: torch.nn.Module, path: str | Path, model_name: str) -> None:
    """Start `model` (registry name `model_name`) from the weights of checkpoint `path` (fine-tuning)."""
    init = read_checkpoint(path)
    if init["meta"]["model"] != model_name:
        raise InputError(path, f"is a {init['meta']['model']} checkpoint, not {model_name}")
    try:
        result = model.load_state_dict(init["state_dict"], strict=False)
    except RuntimeError as exc:
        raise InputError(path, f"weights do not fit ({str(exc).splitlines()[0]})") from None
    # a part the model added since the checkpoint was made (e.g. posetcn's swap detector) may start fresh
    optional = tuple(getattr(model, "optional_modules", ()))
    missing = (
        [k for k in result.missing_keys if not k.startswith(optional)] if optional else result.missing_keys
    )
    if missing or result.unexpected_keys:
        keys = ", ".join((missing + result.unexpected_keys)[:3])
        raise InputError(path, f"weights do not fit (missing or unexpected: {keys})")
