"""Glorot-uniform initialisation shared by every model (chapter 1.2.3, equation 1).

Every weight is drawn from U(-a, a) with a = sqrt(6 / (fan_in + fan_out)) and every bias is zero.
Fans are the layer's own sizes: for a convolution, channels times the kernel's receptive field.

A layer that stores several logical layers in one tensor (the four gate convolutions of a ConvLSTM,
the query/key/value projections of attention) is initialised chunk by chunk, so each logical layer gets
the bound its own sizes give it rather than the bound of the fused tensor. A fused layer says so with
an integer attribute `glorot_chunks` (the number of equal chunks along its output dimension).
Modules with weights that are not layers (the ConvLSTM's peephole weights) provide `init_glorot()`.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def glorot_fans(shape: torch.Size | tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of `shape` = (out, in, *kernel), as Glorot and PyTorch count them."""
    if len(shape) < 2:
        raise ValueError(f"Glorot fans need a weight with at least 2 dimensions, got shape {tuple(shape)}")
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def glorot_bound(fan_in: int, fan_out: int) -> float:
    """Half-width a of U(-a, a) in the chapter's equation 1."""
    return math.sqrt(6.0 / (fan_in + fan_out))


@torch.no_grad()
def glorot_uniform_(weight: torch.Tensor, chunks: int = 1) -> torch.Tensor:
    """Fill `weight` in place; with chunks > 1 each of the equal chunks along dim 0 is its own layer."""
    for chunk in weight.chunk(chunks, dim=0):  # views: filling them fills `weight`
        bound = glorot_bound(*glorot_fans(chunk.shape))
        chunk.uniform_(-bound, bound)
    return weight


@torch.no_grad()
def init_weights(module: nn.Module) -> None:
    """Glorot-uniform weights and zero biases for every parameter of `module`.

    Raises TypeError if a parameter is left that no rule covers, so a new layer type cannot silently keep
    PyTorch's default initialisation.
    """
    covered: set[int] = set()
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):  # includes attention's out_proj
            glorot_uniform_(m.weight, chunks=getattr(m, "glorot_chunks", 1))
            covered.add(id(m.weight))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
                covered.add(id(m.bias))
        elif isinstance(m, nn.MultiheadAttention):
            if not m._qkv_same_embed_dim:
                raise TypeError("init_weights supports attention with one packed query/key/value projection")
            glorot_uniform_(m.in_proj_weight, chunks=3)  # query, key and value: three (E, E) layers
            covered.add(id(m.in_proj_weight))
            if m.in_proj_bias is not None:
                nn.init.zeros_(m.in_proj_bias)
                covered.add(id(m.in_proj_bias))
        elif isinstance(m, nn.LayerNorm):  # a normalisation, not a layer: identity scale, zero shift
            if m.weight is not None:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
                covered.update((id(m.weight), id(m.bias)))
        if hasattr(m, "init_glorot"):  # own parameters that are not layers (peephole weights)
            covered.update(id(p) for p in m.init_glorot())
    missed = [name for name, p in module.named_parameters() if id(p) not in covered]
    if missed:
        raise TypeError(f"init_weights has no rule for parameters {missed}")
