"""DeciWatch (Zeng et al. 2022) on heatmap argmax coordinates: denoise a sparse subset of frames with a
transformer encoder, interpolate them to every frame, recover the rest with a transformer decoder.

Facts followed from the official code (cure-lab/DeciWatch, lib/models/deciwatch.py, train.py and its
2D config) and the chapter (1.2.3):
- Tokens are frames; a frame's feature is its K joints' (x, y) normalised to [0, 1] by (size - 1),
  flattened to 2K = 50 values in (x0, y0, x1, y1, ...) order.
- Sample interval N = 4 over T = 5 frames: frames 0 and 4 are visible (T = N * Q + 1 with Q = 1). The
  official code zeroes the other frames and masks them out as keys; that is the same as encoding the
  visible frames only, which is what we do. The other frames never reach the output.
- DenoiseNet: Linear 2K -> C embedding, `encoder_layers` encoder layers, Linear C -> 2K, plus the input
  (residual). Self-attention may not attend a frame to itself (the official `torch.eye` attention mask;
  `mask_self`). Note that with Q = 1 each visible frame can then only attend to the other, so the
  encoder's query/key projections get no gradient: attention over a single key is the constant 1.
- RecoverNet: the denoised visible frames are linearly interpolated to all T frames (align_corners),
  embedded by a Conv1d over time (2K -> C, kernel `token_window` = 5), decoded by `decoder_layers`
  decoder layers attending to the encoder's output, projected C -> 2K and added to the interpolation.
- Layers are post-norm (the official 2D configs set PRE_NORM False), LeakyReLU feed-forward, dropout on
  attention weights and on every residual branch; the decoder ends with a LayerNorm, the post-norm
  encoder does not. Positions enter DETR-style: a sinusoidal encoding is added to the queries and keys
  of every attention (not to values, not to the token embeddings). As in the official code, positions are
  normalised to [0, 2 pi] over the window and the i-th sin/cos pair has wavelength 10000^(2i / (C/2)).
Output: (B, T, K, 2) coordinates in grid pixels (x, y); the loss is on these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from posedenoise.errors import PoseDenoiseError
from posedenoise.heatmaps import argmax as heatmap_argmax
from posedenoise.models.glorot import init_weights
from posedenoise.models.registry import register_model


@dataclass
class DeciWatchConfig:
    joints: int = 25  # K; a frame token has 2K features
    interval: int = 4  # sample interval N: frames 0, N, 2N, ... are visible; the window is N * Q + 1 frames
    embed_dim: int = 128  # C, the token embedding (official ENCODER/DECODER_EMBEDDING_DIMENSION)
    heads: int = 4  # M, attention heads
    encoder_layers: int = 5  # DenoiseNet transformer layers
    decoder_layers: int = 5  # RecoverNet transformer layers
    ffn: int = 256  # feed-forward width inside each layer
    dropout: float = 0.1
    token_window: int = 5  # temporal kernel of the RecoverNet's Conv1d embedding (odd)
    mask_self: bool = True  # encoder frames may not attend to themselves (official behaviour)
    # Zero the two output projections (DenoiseNet's and RecoverNet's), so that the untrained model returns
    # its input pipeline exactly: the visible frames as given, the others linearly interpolated between
    # them (with interval 1 every frame is visible: the identity function). Off: the chapter's Glorot init.
    zero_init: bool = False

    def __post_init__(self) -> None:
        positive = dict(
            joints=self.joints, interval=self.interval, embed_dim=self.embed_dim, heads=self.heads,
            encoder_layers=self.encoder_layers, decoder_layers=self.decoder_layers, ffn=self.ffn,
            token_window=self.token_window,
        )  # fmt: skip
        bad = [f"{k}={v!r}" for k, v in positive.items() if not (isinstance(v, int) and v >= 1)]
        if bad:
            raise PoseDenoiseError(f"deciwatch options must be positive integers: {', '.join(bad)}")
        if self.embed_dim % self.heads or self.embed_dim % 2:
            raise PoseDenoiseError(
                f"deciwatch needs an even embed_dim divisible by heads, got {self.embed_dim} and {self.heads}"
            )
        if self.token_window % 2 == 0:
            raise PoseDenoiseError(f"deciwatch token_window must be odd, got {self.token_window}")
        flags = dict(mask_self=self.mask_self, zero_init=self.zero_init)
        bad_flags = [f"{k}={v!r}" for k, v in flags.items() if not isinstance(v, bool)]
        if bad_flags:
            raise PoseDenoiseError(f"deciwatch options must be true or false: {', '.join(bad_flags)}")
        if not 0.0 <= self.dropout < 1.0:
            raise PoseDenoiseError(f"deciwatch dropout must be in [0, 1), got {self.dropout}")


def sine_positions(num_frames: int, dim: int, device: torch.device | None = None) -> torch.Tensor:
    """(num_frames, dim) sinusoidal encoding; positions normalised to [0, 2 pi] over the window."""
    pos = torch.arange(num_frames, dtype=torch.float32, device=device)
    pos = pos / (pos[-1] + 1e-6) * (2 * math.pi)  # (T,)
    half = dim // 2
    wavelength = 10000.0 ** (2 * torch.arange(half, dtype=torch.float32, device=device) / half)  # (C/2,)
    angle = pos[:, None] / wavelength  # (T, C/2)
    return torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(1)  # (T, C): sin, cos interleaved


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float):
        super().__init__()
        self.fc = nn.Linear(dim, hidden)
        self.proj = nn.Linear(hidden, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.dropout(F.leaky_relu(self.fc(x))))  # (B, L, C)


class EncoderLayer(nn.Module):
    """Post-norm self-attention + feed-forward; positions added to queries and keys."""

    def __init__(self, config: DeciWatchConfig):
        super().__init__()
        C, p = config.embed_dim, config.dropout
        self.attn = nn.MultiheadAttention(C, config.heads, dropout=p, batch_first=True)
        self.ffn = FeedForward(C, config.ffn, p)
        self.norm1, self.norm2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.drop1, self.drop2 = nn.Dropout(p), nn.Dropout(p)

    def forward(self, x: torch.Tensor, pos: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        # x: (B, L, C); pos: (L, C); attn_mask: (L, L) bool, True = may not attend
        qk = x + pos
        x = self.norm1(x + self.drop1(self.attn(qk, qk, x, attn_mask=attn_mask, need_weights=False)[0]))
        return self.norm2(x + self.drop2(self.ffn(x)))


class DecoderLayer(nn.Module):
    """Post-norm self-attention, cross-attention to the encoder memory, feed-forward."""

    def __init__(self, config: DeciWatchConfig):
        super().__init__()
        C, p = config.embed_dim, config.dropout
        self.self_attn = nn.MultiheadAttention(C, config.heads, dropout=p, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(C, config.heads, dropout=p, batch_first=True)
        self.ffn = FeedForward(C, config.ffn, p)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(C), nn.LayerNorm(C), nn.LayerNorm(C)
        self.drop1, self.drop2, self.drop3 = nn.Dropout(p), nn.Dropout(p), nn.Dropout(p)

    def forward(
        self, x: torch.Tensor, pos: torch.Tensor, memory: torch.Tensor, memory_pos: torch.Tensor
    ) -> torch.Tensor:
        # x: (B, T, C), pos: (T, C); memory: (B, Tv, C), memory_pos: (Tv, C)
        qk = x + pos
        x = self.norm1(x + self.drop1(self.self_attn(qk, qk, x, need_weights=False)[0]))
        attended = self.cross_attn(x + pos, memory + memory_pos, memory, need_weights=False)[0]
        x = self.norm2(x + self.drop2(attended))
        return self.norm3(x + self.drop3(self.ffn(x)))


class DeciWatch(nn.Module):
    output_kind = "coords"

    def __init__(self, config: DeciWatchConfig):
        super().__init__()
        self.config = config
        D, C = 2 * config.joints, config.embed_dim
        # DenoiseNet
        self.encoder_embed = nn.Linear(D, C)
        self.encoder = nn.ModuleList(EncoderLayer(config) for _ in range(config.encoder_layers))
        self.encoder_unembed = nn.Linear(C, D)
        # RecoverNet
        self.decoder_embed = nn.Conv1d(D, C, config.token_window, padding=config.token_window // 2)
        self.decoder = nn.ModuleList(DecoderLayer(config) for _ in range(config.decoder_layers))
        self.decoder_norm = nn.LayerNorm(C)
        self.decoder_unembed = nn.Linear(C, D)
        init_weights(self)
        if config.zero_init:
            # Both stages end in a residual (denoised = visible + proj(...), recovered = interp + proj(...)):
            # zero projections make each stage its identity, and their weight gradients are not zero
            # (they are the stage's features times the error), so training moves away from there at once.
            for proj in (self.encoder_unembed, self.decoder_unembed):
                nn.init.zeros_(proj.weight)
                nn.init.zeros_(proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, T, K, H, W) noisy heatmaps -> (B, T, K, 2) coordinates in grid pixels
        size = x.shape[-1]
        with torch.no_grad():  # the argmax is not differentiable; nothing upstream to train anyway
            coords = heatmap_argmax(x.float())  # (B, T, K, 2)
        return self.forward_coords(coords, size)

    def forward_coords(self, coords: torch.Tensor, size: int = 56) -> torch.Tensor:
        """The model on coordinates directly: (B, T, K, 2) grid pixels -> (B, T, K, 2) grid pixels.

        Equals forward() on heatmaps whose argmax is `coords`, without rendering them.
        """
        B, T, K, _ = coords.shape
        N = self.config.interval
        if (T - 1) % N or T < N + 1:
            raise PoseDenoiseError(
                f"deciwatch with interval {N} needs a window of interval * Q + 1 frames (Q >= 1), got {T}"
            )
        scale = size - 1
        seq = coords.float().flatten(2) / scale  # (B, T, 2K) in [0, 1]
        pos = sine_positions(T, self.config.embed_dim, seq.device)  # (T, C)

        # DenoiseNet on the visible frames
        visible, visible_pos = seq[:, ::N], pos[::N]  # (B, Tv, 2K), (Tv, C)
        Tv = visible.shape[1]
        self_mask = (
            torch.eye(Tv, dtype=torch.bool, device=seq.device) if self.config.mask_self and Tv > 1 else None
        )
        memory = self.encoder_embed(visible)  # (B, Tv, C)
        for layer in self.encoder:
            memory = layer(memory, visible_pos, self_mask)
        denoised = visible + self.encoder_unembed(memory)  # (B, Tv, 2K)

        # RecoverNet: interpolate to all frames, then refine
        interp = F.interpolate(
            denoised.float().transpose(1, 2), size=T, mode="linear", align_corners=True
        )  # (B, 2K, T)
        h = self.decoder_embed(interp).transpose(1, 2)  # (B, T, C)
        for layer in self.decoder:
            h = layer(h, pos, memory, visible_pos)
        recovered = interp.transpose(1, 2) + self.decoder_unembed(self.decoder_norm(h))  # (B, T, 2K)
        return recovered.float().unflatten(2, (K, 2)) * scale  # (B, T, K, 2) grid pixels


@register_model("deciwatch", display_name="DeciWatch", config=DeciWatchConfig, study=True, table_order=2)
def deciwatch(**options) -> DeciWatch:
    return DeciWatch(DeciWatchConfig(**options))
