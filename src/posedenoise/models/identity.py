"""Identity function: returns its input. The "identity function" row of the chapter's tables, i.e. how
good the noisy input already is."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from posedenoise.models.registry import register_model


@dataclass
class IdentityConfig:
    pass  # no options: the baseline has nothing to configure


class Identity(nn.Module):
    output_kind = "heatmaps"

    def __init__(self, config: IdentityConfig | None = None):
        super().__init__()
        self.config = config if config is not None else IdentityConfig()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x  # (B, T, K, H, W) -> (B, T, K, H, W)


@register_model("identity", display_name="Identity function", config=IdentityConfig)
def identity(**options) -> Identity:
    return Identity(IdentityConfig(**options))
