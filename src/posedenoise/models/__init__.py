"""The models and their registry (timm-like): `create_model("conv3d")`, `list_models()`, `model_info(name)`.

Every model is an `nn.Module` with
- `output_kind`: "heatmaps" (returns `(B, T, K, 56, 56)`) or "coords" (returns `(B, T, K, 2)` grid pixels);
- `config`: its dataclass; `dataclasses.asdict(model.config)` gives options that rebuild it;
- `forward(x)` with x the noisy heatmaps `(B, T=5, K=25, 56, 56)`.
`predict_coords` and `predict_heatmaps` give either output from any model.

A model registers a factory `fn(**options) -> nn.Module` with `@register_model(name, display_name=...,
config=ConfigClass)` above it, in the model's own file (`registry.py`); the options a factory accepts are the
fields of its config dataclass.
"""

from __future__ import annotations

import torch
from torch import nn

from posedenoise.heatmaps import argmax as heatmap_argmax
from posedenoise.heatmaps import argmax_subpixel, render

# every model file registers its builders on import: a new model is a new file and a line here
from posedenoise.models.conv3d import Conv3dConfig, Conv3dDenoiser
from posedenoise.models.convlstm import BiConvLSTMConcat, BiConvLSTMConfig, BiConvLSTMSum
from posedenoise.models.deciwatch import DeciWatch, DeciWatchConfig
from posedenoise.models.glorot import init_weights
from posedenoise.models.identity import Identity, IdentityConfig
from posedenoise.models.posetcn import PoseTCN, PoseTCNConfig
from posedenoise.models.registry import (
    ModelSummary,
    count_parameters,
    create_model,
    display_name,
    list_models,
    model_info,
    model_input,
    model_options,
    model_summaries,
    parse_model_options,
    register_model,
    study_models,
)

# ----------------------------------------------------------------------------- outputs of any model


def predict_coords(model: nn.Module, x: torch.Tensor, subpixel: bool = False) -> torch.Tensor:
    """(B, T, K, H, W) noisy heatmaps -> (B, T, K, 2) float32 (x, y) grid pixels from any model:
    the argmax of each output heatmap (refined below the pixel with `subpixel`), or DeciWatch's
    coordinates."""
    out = model(x)
    if model.output_kind == "coords":
        return out.float()
    return argmax_subpixel(out.float()) if subpixel else heatmap_argmax(out.float())


def predict_heatmaps(model: nn.Module, x: torch.Tensor, sigma_out: float = 1.0) -> torch.Tensor:
    """(B, T, K, H, W) noisy heatmaps -> (B, T, K, H, W) float32 heatmaps from any model; a coordinate
    model's output is rendered with `sigma_out` (all joints drawn, positions clipped to the grid)."""
    out = model(x)
    if model.output_kind == "heatmaps":
        return out.float()
    size = x.shape[-1]
    present = torch.ones(out.shape[:-1], dtype=torch.bool, device=out.device)  # (B, T, K)
    return render(out.float(), present, sigma_out, size=size)


__all__ = [
    "BiConvLSTMConcat",
    "BiConvLSTMConfig",
    "BiConvLSTMSum",
    "Conv3dConfig",
    "Conv3dDenoiser",
    "DeciWatch",
    "DeciWatchConfig",
    "Identity",
    "IdentityConfig",
    "PoseTCN",
    "PoseTCNConfig",
    "ModelSummary",
    "count_parameters",
    "create_model",
    "display_name",
    "model_input",
    "study_models",
    "init_weights",
    "list_models",
    "model_info",
    "model_options",
    "model_summaries",
    "parse_model_options",
    "predict_coords",
    "predict_heatmaps",
    "register_model",
]
