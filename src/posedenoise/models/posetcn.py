"""PoseTCN: a temporal convolution network on whole tracks of coordinates, made for real detector output.

Not one of the chapter's four. The chapter's models see 5 frames of 56 x 56 heatmaps, so on a person
900 pixels tall they cannot place a joint closer than ~16 pixels, and 5 frames are too few to tell a
left/right swap from motion. PoseTCN reads coordinates (no grid), the detector's confidence and about four
seconds of context (a receptive field of 133 frames), and it is fully convolutional in time: a track of
any length goes through in one pass.

Like SmoothNet (Zeng et al., ECCV 2022) it filters each joint's trajectory with weights shared by every
joint, which keeps it small and fast (a joint is a sequence, not 2 of 50 channels squeezed through one
layer); unlike SmoothNet, each joint also reads its left/right partner (so a pair that trades places is
visible as such), a learned embedding of which joint it is, and, in every block, the mean state of the
whole body.

Input (`trackdata.track_features`, shared by training and `denoise`): per frame and joint, in units of the
track's size and relative to a smoothed body centre, the joint's x, y (gaps interpolated), confidence and
whether it was detected, the same four of its partner, and the centre's velocity.
Output: a correction per joint and frame, added to the interpolated input; the last layer starts at zero,
so an untrained PoseTCN is the identity on detected joints (and linear interpolation across gaps).

Left/right swaps (`swap_channels` > 0): a per-joint filter that sees one partner cannot tell a swapped arm
from an arm that moved, because what gives a swap away is the rest of the body (an elbow a shoulder-width
away from its own shoulder, both hands jumping across at once, the legs' chain inverting together). So a
second, whole-body network (`SwapDetector`) reads every joint of a frame at once, over the same long
context, and says which pairs are inverted; those pairs are put back before the per-joint filter runs. The
detector's last layer starts at "nothing swapped", so adding it to trained weights changes nothing until it
is trained.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from posedenoise.errors import PoseDenoiseError
from posedenoise.layout import FLIP_PAIRS
from posedenoise.models.registry import register_model

OUTPUT_SCALE = 0.1  # corrections are produced in tenths of the track's size (typical errors are ~0.05)
JOINT_FEATURES = 10  # own x, y, confidence, detected; the partner's four; the centre's velocity x, y


@dataclass
class PoseTCNConfig:
    joints: int = 25  # K: joints per frame (the 25-joint layout)
    channels: int = 32  # C: features per joint in every temporal layer
    kernel_size: int = 3  # taps of each dilated temporal convolution (odd)
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 2, 1)  # one residual block each; field 1 + 2 * 66 = 133
    swap_channels: int = 0  # features per frame of the whole-body swap detector (0: no detector)
    swap_threshold: float = 0.0  # logit above which the detector puts a pair back (0: probability 0.5)

    def __post_init__(self) -> None:
        self.dilations = tuple(int(d) for d in self.dilations)
        if self.swap_channels < 0:
            raise PoseDenoiseError(f"posetcn swap_channels must be >= 0, got {self.swap_channels}")
        if self.swap_channels and self.joints != len(FLIP_PAIRS):
            raise PoseDenoiseError(f"the posetcn swap detector needs the {len(FLIP_PAIRS)}-joint layout")
        if self.joints < 1 or self.channels < 1 or self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise PoseDenoiseError(
                "posetcn needs joints >= 1, channels >= 1 and an odd kernel_size, "
                f"got {self.joints}, {self.channels}, {self.kernel_size}"
            )
        if not self.dilations or min(self.dilations) < 1:
            raise PoseDenoiseError(f"posetcn dilations must be positive integers, got {self.dilations}")

    @property
    def receptive_field(self) -> int:
        """Frames an output frame depends on (centred)."""
        return 1 + (self.kernel_size - 1) * sum(self.dilations)


class TemporalBlock(nn.Module):
    """h + Pointwise(GELU(DilatedConv(GELU(h)))) + Body(mean over joints): one residual block.

    Every joint runs through the same weights; the body term lets each joint see all the others. The
    dilated convolution is written as one matrix product over the taps stacked on the feature axis: with
    24 features a joint, a CPU convolution kernel spends its time on bookkeeping, a matrix product does
    not. Zero padding in time: beyond a track's ends nothing is detected, which is what the input's zeros
    say (no confidence, not detected, at the centre); training crops end the same way.
    """

    def __init__(self, channels: int, kernel_size: int, dilation: int, body: bool = True):
        super().__init__()
        self.dilation, self.kernel_size = dilation, kernel_size
        self.temporal = nn.Linear(kernel_size * channels, channels)  # taps t - r d, ..., t + r d
        self.pointwise = nn.Linear(channels, channels)
        self.body = nn.Linear(channels, channels) if body else None  # None: one sequence, nothing to mix
        self.act = nn.GELU()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        # h: (B, K, T, C)
        t = h.shape[2]
        a = self.act(h)
        pad = self.dilation * (self.kernel_size // 2)
        padded = nn.functional.pad(a, (0, 0, pad, pad))  # (B, K, T + 2 pad, C)
        taps = [padded[:, :, i * self.dilation : i * self.dilation + t] for i in range(self.kernel_size)]
        y = self.pointwise(self.act(self.temporal(torch.cat(taps, dim=-1))))  # (B, K, T, C)
        if self.body is None:
            return h + y
        return h + y + self.body(h.mean(dim=1, keepdim=True))  # the body term broadcasts over joints


SWAP_PRIOR = -4.0  # the detector's starting logit: sigmoid(-4) = 2%, below the 0.5 that swaps a pair back


class SwapDetector(nn.Module):
    """Per frame and joint, the logit that the detector reported this joint's left/right partner instead.

    One temporal network over the whole body (every joint's position, confidence and detection in one
    vector per frame), with the per-joint filter's dilations. Its logits are made symmetric: a pair is
    inverted or not, both sides at once.
    """

    def __init__(self, config: PoseTCNConfig):
        super().__init__()
        c, k = config.swap_channels, config.joints
        self.embed = nn.Linear(4 * k + 2, c)  # every joint's own four features, the centre's velocity
        self.blocks = nn.ModuleList(
            TemporalBlock(c, config.kernel_size, d, body=False) for d in config.dilations
        )
        self.head = nn.Linear(c, k)
        nn.init.zeros_(self.head.weight)
        nn.init.constant_(self.head.bias, SWAP_PRIOR)
        self.register_buffer("flip", torch.as_tensor(FLIP_PAIRS[:k], dtype=torch.long), persistent=False)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features (B, T, K, 10) -> logits (B, T, K), equal for a joint and its partner."""
        b, t, k, _ = features.shape
        frame = torch.cat([features[..., :4].reshape(b, t, 4 * k), features[:, :, 0, 8:10]], dim=-1)
        h = self.embed(frame).unsqueeze(1)  # (B, 1, T, C): one sequence per track
        for block in self.blocks:
            h = block(h)
        logits = self.head(nn.functional.gelu(h)).squeeze(1)  # (B, T, K)
        return (logits + logits[..., self.flip]) / 2


def unswap(
    features: torch.Tensor, swapped: torch.Tensor, flip: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Put the pairs marked `swapped` (B, T, K) back: each such joint takes its partner's features (so its
    partner features become its own). Returns the new features and the move of each joint's position
    (B, T, K, 2), size units."""
    k = features.shape[2]
    source = torch.where(swapped, flip, torch.arange(k, device=features.device))  # (B, T, K)
    moved = torch.gather(features, 2, source[..., None].expand_as(features))
    return moved, moved[..., :2] - features[..., :2]


class PoseTCN(nn.Module):
    output_kind = "coords"
    input_kind = "tracks"  # whole tracks of coordinates, not 5-frame heatmap windows

    def __init__(self, config: PoseTCNConfig):
        super().__init__()
        self.config = config
        c = config.channels
        self.embed = nn.Linear(JOINT_FEATURES, c)  # shared by every joint
        self.joint_embedding = nn.Parameter(torch.zeros(config.joints, c))  # which joint this is
        nn.init.normal_(self.joint_embedding, std=0.5)
        self.blocks = nn.ModuleList(TemporalBlock(c, config.kernel_size, d) for d in config.dilations)
        self.head = nn.Linear(c, 2)
        nn.init.zeros_(self.head.weight)  # starts as the identity on its (interpolated) input
        nn.init.zeros_(self.head.bias)
        self.swap_detector = SwapDetector(config) if config.swap_channels else None

    # weights a checkpoint without them may lack (`--init-from` a model trained before they existed)
    optional_modules = ("swap_detector.",)

    def forward_with_swaps(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """features (B, T, K, 10) from `track_features` -> corrections (B, T, K, 2) in units of the track's
        size (see `trackdata.apply_corrections`), and the swap detector's logits (B, T, K) (None without)."""
        logits, moved = None, 0.0
        if self.swap_detector is not None:
            logits = self.swap_detector(features)
            features, moved = unswap(features, logits > self.config.swap_threshold, self.swap_detector.flip)
        h = (self.embed(features) + self.joint_embedding).transpose(1, 2)  # (B, K, T, C)
        for block in self.blocks:
            h = block(h)
        corrections = self.head(nn.functional.gelu(h)).transpose(1, 2) * OUTPUT_SCALE  # (B, T, K, 2)
        return corrections + moved, logits

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.forward_with_swaps(features)[0]


@register_model("posetcn", display_name="PoseTCN (real tracks)", config=PoseTCNConfig, input="tracks")
def posetcn(**options) -> PoseTCN:
    return PoseTCN(PoseTCNConfig(**options))
