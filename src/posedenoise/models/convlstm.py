"""bi-ConvLSTM Models S and C: a forward and a backward ConvLSTM over the window, each followed by
convolutions, the two directions combined by a sum (Model S) or a concatenation (Model C).

Built bottom-up: ConvLSTMCell (one time step, Shi et al. 2015, with peepholes) -> ConvLSTM (a cell run over
the window in one direction) -> the two models. Sources: chapter 1.2.3 and the thesis
(AndreOskarAndersen/master_thesis, report/models.tex and src/models/unipose.py), from which we follow:
- Model S: each direction's head is five convolutions, 3x3 to 128, 3x3 128, 3x3 128, 1x1 128, 1x1 to K,
  each followed by ReLU *including the last*, and the two heads' outputs are summed (models.tex; the code
  applies ReLU after every head convolution).
- Model C: each direction has three 3x3 convolutions to 128 with ReLU; the two are concatenated (256
  channels), then a 1x1 to 128 with ReLU and a 1x1 to K, also followed by ReLU as everywhere in the thesis
  code (heatmaps are non-negative).
- The ConvLSTM's hidden state has K = 25 channels, its kernels are 3x3 with same padding, and its peephole
  weights W_ci, W_cf, W_co are learned per channel and per pixel (shape (hidden, H, W)); states start at 0.
Where we differ from the thesis code: its gates had both per-channel conv biases and per-pixel bias maps;
here each gate has one per-channel bias (zero-initialised, as the chapter asks of all biases).
Initialisation (chapter equation 1): every convolution Glorot-uniform, the four gates' input and hidden
convolutions each as its own K->K layer (`glorot_chunks`); the peephole weights, which are elementwise
(diagonal) weights, Glorot-uniform with fan_in = fan_out = hidden channels (the Keras convention for
peephole vectors), i.e. U(-sqrt(3 / hidden), sqrt(3 / hidden)).
The heads run on all frames at once with time folded into the batch; so does the ConvLSTM's input
convolution, leaving only the hidden-state convolution inside the recurrence.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from posedenoise.errors import PoseDenoiseError
from posedenoise.models.glorot import glorot_bound, init_weights
from posedenoise.models.inference import chunked_inference
from posedenoise.models.registry import register_model


@dataclass
class BiConvLSTMConfig:
    joints: int = 25  # input channels per frame and output heatmaps (K)
    size: int = 56  # heatmap side; fixes the shape of the per-pixel peephole weights
    hidden: int = 25  # ConvLSTM hidden-state channels
    kernel_size: int = 3  # ConvLSTM gate kernel (odd: same padding)
    head_channels: int = 128  # width of the convolutions after each ConvLSTM
    # the thesis ends with a ReLU: a joint whose last pre-activation turns negative everywhere gets no
    # gradient again and its map stays all zero (docs/fidelity.md); False leaves the last convolution linear
    final_relu: bool = True

    def __post_init__(self) -> None:
        sizes = (self.joints, self.size, self.hidden, self.kernel_size, self.head_channels)
        if min(sizes) < 1 or self.kernel_size % 2 == 0:
            raise PoseDenoiseError(
                f"convlstm needs positive sizes and an odd kernel_size, got joints={self.joints}, "
                f"size={self.size}, hidden={self.hidden}, kernel_size={self.kernel_size}, "
                f"head_channels={self.head_channels}"
            )


class ConvLSTMCell(nn.Module):
    """One step of a peephole ConvLSTM (Shi et al. 2015, equation 3):
    i = sigmoid(W_xi * x + W_hi * h + W_ci o c_prev + b_i)
    f = sigmoid(W_xf * x + W_hf * h + W_cf o c_prev + b_f)
    c = f o c_prev + i o tanh(W_xc * x + W_hc * h + b_c)
    o = sigmoid(W_xo * x + W_ho * h + W_co o c + b_o)
    h = o o tanh(c)
    (* convolution, o Hadamard product). The input convolution is applied by the caller (for all frames at
    once); the step takes its result."""

    def __init__(self, in_channels: int, hidden: int, kernel_size: int, size: int):
        super().__init__()
        self.hidden = hidden
        # the four gates' convolutions, fused along the output channels in the order i, f, c, o
        self.input_conv = nn.Conv2d(in_channels, 4 * hidden, kernel_size, padding=kernel_size // 2)
        self.hidden_conv = nn.Conv2d(hidden, 4 * hidden, kernel_size, padding=kernel_size // 2, bias=False)
        self.input_conv.glorot_chunks = 4  # each gate's convolution is its own layer for Glorot
        self.hidden_conv.glorot_chunks = 4
        self.peephole = nn.Parameter(torch.empty(3, hidden, size, size))  # W_ci, W_cf, W_co

    @torch.no_grad()
    def init_glorot(self) -> Iterator[nn.Parameter]:
        bound = glorot_bound(self.hidden, self.hidden)  # elementwise weights: fans = channels
        self.peephole.uniform_(-bound, bound)
        yield self.peephole

    def forward(
        self, x_gates: torch.Tensor, h: torch.Tensor | None, c: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # x_gates: (B, 4*hidden, H, W) = input_conv(x_t); h, c: (B, hidden, H, W); h None means zeros
        gates = x_gates if h is None else x_gates + self.hidden_conv(h)
        i, f, g, o = gates.chunk(4, dim=1)  # each (B, hidden, H, W)
        w_ci, w_cf, w_co = self.peephole  # each (hidden, H, W)
        i = torch.sigmoid(i + w_ci * c)
        f = torch.sigmoid(f + w_cf * c)
        c = f * c + i * torch.tanh(g)
        o = torch.sigmoid(o + w_co * c)
        h = o * torch.tanh(c)
        return h, c


class ConvLSTM(nn.Module):
    """A ConvLSTMCell run over a sequence in one direction; returns the hidden state at every frame."""

    def __init__(self, in_channels: int, hidden: int, kernel_size: int, size: int, reverse: bool):
        super().__init__()
        self.cell = ConvLSTMCell(in_channels, hidden, kernel_size, size)
        self.reverse = reverse  # True: from the last frame to the first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C, H, W = x.shape
        # unbind, not x_gates[:, t]: the backward of T separate selections would build T zero-filled
        # gradients of the whole (B, T, 4*hidden, H, W) tensor; unbind's backward is one stack
        gates = self.cell.input_conv(x.flatten(0, 1)).unflatten(0, (B, T))  # (B, T, 4*hidden, H, W)
        x_gates = gates.unbind(1)  # T x (B, 4*hidden, H, W)
        h = None  # zero initial state; the first step skips the hidden convolution
        c = x.new_zeros(B, self.cell.hidden, H, W)  # cell state kept in the input's precision
        hs: list[torch.Tensor] = [x] * T  # placeholders, all overwritten
        for t in reversed(range(T)) if self.reverse else range(T):
            h, c = self.cell(x_gates[t], h, c)
            hs[t] = h
        return torch.stack(hs, dim=1)  # (B, T, hidden, H, W) in the input's frame order


def conv_relu(in_channels: int, out_channels: int, kernel_size: int, relu: bool = True) -> list[nn.Module]:
    # ReLU in place: a convolution's backward needs its input, not its output, so the activation can
    # overwrite it (one activation-sized buffer less per layer: 128 MB at batch 16 in fp32)
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
    return [conv, nn.ReLU(inplace=True)] if relu else [conv]


def fold_time(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Apply a per-frame 2D module to all frames at once: (B, T, C, H, W) -> (B, T, C', H, W)."""
    frames = x.flatten(0, 1)  # (B*T, C, H, W)
    if frames.device.type == "cpu":
        # oneDNN's 3x3 128 -> 128 convolutions, most of these models' arithmetic, run 20-35% faster
        # (forward and backward) with channels innermost; the layout then carries through the whole
        # head. On GPU cuDNN picks its own layout.
        frames = frames.contiguous(memory_format=torch.channels_last)
    return module(frames).unflatten(0, x.shape[:2])


def bidirectional_convlstm(config: BiConvLSTMConfig) -> tuple[ConvLSTM, ConvLSTM]:
    """The forward and the backward ConvLSTM both models start with."""
    lstm = dict(
        in_channels=config.joints, hidden=config.hidden, kernel_size=config.kernel_size, size=config.size
    )
    return ConvLSTM(**lstm, reverse=False), ConvLSTM(**lstm, reverse=True)


class BiConvLSTM(nn.Module):
    """What Models S and C share: the forward and backward ConvLSTM and running without autograd in chunks.
    A subclass adds its convolutions after the ConvLSTMs, calls `init_weights` and defines `_forward`."""

    output_kind = "heatmaps"
    cpu_micro_batch = 2  # training on the CPU: windows per backward pass (train.micro_batch_for)

    def __init__(self, config: BiConvLSTMConfig):
        super().__init__()
        self.config = config
        self.forward_lstm, self.backward_lstm = bidirectional_convlstm(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return chunked_inference(self._forward, x)  # _forward: the subclass's


class BiConvLSTMSum(BiConvLSTM):
    """bi-ConvLSTM Model S: each direction has its own five-convolution head; the heads are summed."""

    def __init__(self, config: BiConvLSTMConfig):
        super().__init__(config)
        K, D, n = config.joints, config.head_channels, config.hidden

        def head() -> nn.Sequential:
            return nn.Sequential(
                *conv_relu(n, D, 3), *conv_relu(D, D, 3), *conv_relu(D, D, 3), *conv_relu(D, D, 1),
                *conv_relu(D, K, 1, relu=config.final_relu),
            )  # fmt: skip

        self.forward_head = head()
        self.backward_head = head()
        init_weights(self)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, T, K, H, W)
        h_fwd = self.forward_lstm(x)  # (B, T, hidden, H, W)
        h_bwd = self.backward_lstm(x)  # (B, T, hidden, H, W)
        y = fold_time(self.forward_head, h_fwd) + fold_time(self.backward_head, h_bwd)  # (B, T, K, H, W)
        return y.contiguous()  # the plain layout whatever the heads used


class BiConvLSTMConcat(BiConvLSTM):
    """bi-ConvLSTM Model C: three convolutions per direction, concatenated, then two 1x1 convolutions."""

    def __init__(self, config: BiConvLSTMConfig):
        super().__init__(config)
        K, D, n = config.joints, config.head_channels, config.hidden

        def branch() -> nn.Sequential:
            return nn.Sequential(*conv_relu(n, D, 3), *conv_relu(D, D, 3), *conv_relu(D, D, 3))

        self.forward_branch = branch()
        self.backward_branch = branch()
        self.fuse = nn.Sequential(*conv_relu(2 * D, D, 1), *conv_relu(D, K, 1, relu=config.final_relu))
        init_weights(self)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, T, K, H, W)
        f = fold_time(self.forward_branch, self.forward_lstm(x))  # (B, T, D, H, W)
        b = fold_time(self.backward_branch, self.backward_lstm(x))  # (B, T, D, H, W)
        y = fold_time(self.fuse, torch.cat([f, b], dim=2))  # (B, T, 2D, H, W) -> (B, T, K, H, W)
        return y.contiguous()  # the plain layout whatever the convolutions used


@register_model(
    "convlstm-s", display_name="bi-ConvLSTM Model S", config=BiConvLSTMConfig, study=True, table_order=3
)
def convlstm_s(**options) -> BiConvLSTMSum:
    return BiConvLSTMSum(BiConvLSTMConfig(**options))


@register_model(
    "convlstm-c", display_name="bi-ConvLSTM Model C", config=BiConvLSTMConfig, study=True, table_order=4
)
def convlstm_c(**options) -> BiConvLSTMConcat:
    return BiConvLSTMConcat(BiConvLSTMConfig(**options))
