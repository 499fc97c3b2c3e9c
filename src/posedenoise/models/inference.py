"""Running a heatmap model without autograd (evaluation, denoising) in bounded memory."""

from __future__ import annotations

from collections.abc import Callable

import torch

# windows per pass on the CPU when no gradient is kept: a bi-ConvLSTM Model C peaks at 1.26 GB over 16
# windows in fp32 and at 0.43 GB over 4, 2% slower on 2 CPU cores (docs/performance.md)
INFERENCE_CHUNK = 4


def chunked_inference(forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """forward(x) over the batch dimension, INFERENCE_CHUNK windows at a time when autograd is off and
    `x` is on the CPU.

    Without autograd nothing is kept for a backward pass, so a batch run in chunks holds only one chunk's
    activations: an evaluation batch of 16 windows would otherwise hold 128 MB per 128-channel layer of
    a bi-ConvLSTM in fp32, several at once. Windows never mix, so each window's result is the same either
    way. With autograd on (training) the batch runs whole (`train.train_step` splits it into micro-batches);
    on a GPU too, where small chunks would leave it idle and the memory is there.
    """
    if torch.is_grad_enabled() or x.device.type != "cpu" or len(x) <= INFERENCE_CHUNK:
        return forward(x)
    return torch.cat([forward(chunk) for chunk in x.split(INFERENCE_CHUNK)])
