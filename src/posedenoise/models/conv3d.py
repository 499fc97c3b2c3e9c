"""3DConv: one 3D convolution over (time, height, width) with the joints as channels, then ReLU.

The chapter's baseline (section 1.2.3). With the defaults (25 joints, kernel 5 in every
dimension) it has 25 * 25 * 5**3 weights + 25 biases = 78,150 parameters. The temporal kernel equals the
window length, and "same" zero padding keeps (T, H, W), so every output frame sees the whole window.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from posedenoise.errors import PoseDenoiseError
from posedenoise.models.glorot import init_weights
from posedenoise.models.inference import chunked_inference
from posedenoise.models.registry import register_model


@dataclass
class Conv3dConfig:
    joints: int = 25  # input and output channels: one heatmap per joint
    kernel_size: int = 5  # in time, height and width; odd so that padding kernel_size // 2 keeps the shape
    # Start as the identity function (each joint's kernel a unit tap at the centre of its own map, every
    # other weight zero) instead of the chapter's Glorot draw, whose cross-joint weights put every joint's
    # blob into every other joint's map and whose negative outputs give the ReLU no gradient to learn from.
    identity_init: bool = False

    def __post_init__(self) -> None:
        if self.joints < 1 or self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise PoseDenoiseError(
                f"conv3d needs joints >= 1 and an odd kernel_size >= 1, got {self.joints}, {self.kernel_size}"
            )
        if not isinstance(self.identity_init, bool):
            raise PoseDenoiseError(f"conv3d identity_init must be true or false, got {self.identity_init!r}")


class Conv3dDenoiser(nn.Module):
    output_kind = "heatmaps"

    def __init__(self, config: Conv3dConfig):
        super().__init__()
        self.config = config
        self.conv = nn.Conv3d(
            config.joints, config.joints, kernel_size=config.kernel_size, padding=config.kernel_size // 2
        )
        init_weights(self)
        if config.identity_init:
            with torch.no_grad():
                centre = config.kernel_size // 2
                self.conv.weight.zero_()  # (K, K, t, h, w)
                for joint in range(config.joints):
                    self.conv.weight[joint, joint, centre, centre, centre] = 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return chunked_inference(self._forward, x)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, T, K, H, W) noisy heatmaps
        x = x.permute(0, 2, 1, 3, 4)  # (B, K, T, H, W): joints are the channels
        # oneDNN's 3D convolution is ~1.6x faster on CPU (forward + backward) with channels innermost
        # (channels_last_3d); on GPU cuDNN picks its own layout, so leave the input alone there.
        if x.device.type == "cpu":
            x = x.contiguous(memory_format=torch.channels_last_3d)
        y = self.conv(x).relu_()  # (B, K, T, H, W); in place: the convolution's backward needs only its input
        return y.permute(0, 2, 1, 3, 4)  # (B, T, K, H, W)


@register_model("conv3d", display_name="3DConv", config=Conv3dConfig, study=True, table_order=1)
def conv3d(**options) -> Conv3dDenoiser:
    return Conv3dDenoiser(Conv3dConfig(**options))
