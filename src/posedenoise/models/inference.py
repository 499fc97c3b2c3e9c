"""Running a heatmap model without autograd (evaluation, denoising) in bounded memory."""

from __future__ import annotations

from collections.abc import Callable

import torch

INFERENCE_CHUNK = 16  # windows per pass when no gradient is kept: the training batch


def chunked_inference(forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """forward(x) over the batch dimension, INFERENCE_CHUNK windows at a time when autograd is off.

    Without autograd nothing is kept for a backward pass, so a batch run in chunks holds only one chunk's
    activations: an evaluation batch of 64 windows would otherwise hold 0.5 GB per 128-channel layer of
    a bi-ConvLSTM in fp32. Windows never mix, so each window's result is the same either way. With
    autograd on (training) the batch runs whole.
    """
    if torch.is_grad_enabled() or len(x) <= INFERENCE_CHUNK:
        return forward(x)
    return torch.cat([forward(chunk) for chunk in x.split(INFERENCE_CHUNK)])
