"""CDCN: Central Difference Convolutional Network (Yu, Zhao, Wang, Qin, Su, Li, Zhou, Zhao, CVPR 2020,
"Searching Central Difference Convolutional Networks for Face Anti-Spoofing").

Central difference convolution (CDC) mixes a vanilla convolution with one over the differences
between each neighbour and the window's centre:

    y(p0) = θ · Σ_n w(p_n) · (x(p0 + p_n) − x(p0)) + (1 − θ) · Σ_n w(p_n) · x(p0 + p_n)
          = Σ_n w(p_n) · x(p0 + p_n) − θ · x(p0) · Σ_n w(p_n)

so it is a normal convolution minus θ times a 1×1 convolution whose kernel is the 3×3 kernel's sum
(θ = 0.7, the paper's best). The network follows the paper's Table 1 / DepthNet layout: a CDC stem
(64), three blocks of three CDC-BN-ReLU layers (128 → 196 → 128) each ending in a 2× max-pool; the
three block outputs resized to the depth map's size and concatenated (384 channels); then three CDC
layers 384 → 128 → 64 → 1 with a final ReLU give the depth map. The score of a face is the mean of
its map. ``width`` shrinks every layer for CPU profiles.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vaultlab.registry import register_backbone

THETA = 0.7


class CDConv2d(nn.Conv2d):
    """3×3 central difference convolution: ``conv(x) − θ · conv_{Σw}(x)`` (θ = 0 is a plain conv)."""

    def __init__(self, cin: int, cout: int, kernel_size: int = 3, padding: int = 1, theta: float = THETA, bias: bool = False):
        super().__init__(cin, cout, kernel_size, padding=padding, bias=bias)
        self.theta = float(theta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        if self.theta == 0.0:
            return out
        centre = F.conv2d(x, self.weight.sum(dim=(2, 3), keepdim=True), self.bias, stride=self.stride, padding=0)
        return out - self.theta * centre


def _ch(c: int, width: float) -> int:
    return max(8, int(round(c * width)))


def cdc_bn_relu(cin: int, cout: int, theta: float) -> nn.Sequential:
    return nn.Sequential(CDConv2d(cin, cout, theta=theta), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class CDCN(nn.Module):
    """The backbone interface of ``vaultlab.nn.backbones``: ``encode(x)`` → (multi-scale map, its global
    average), ``forward(x)`` → the average; ``depth(map)`` is CDCN's own depth head ([B,1,s,s])."""

    def __init__(self, width: float = 1.0, depth_size: int = 32, theta: float = THETA):
        super().__init__()
        stem, c1, c2, c3 = (_ch(c, width) for c in (64, 128, 196, 128))
        self.stem = cdc_bn_relu(3, stem, theta)
        blocks, cin = [], stem
        for _ in range(3):
            blocks.append(nn.Sequential(cdc_bn_relu(cin, c1, theta), cdc_bn_relu(c1, c2, theta), cdc_bn_relu(c2, c3, theta),
                                        nn.MaxPool2d(3, 2, 1)))
            cin = c3
        self.blocks = nn.ModuleList(blocks)
        self.depth_size = int(depth_size)
        self.map_channels = 3 * c3
        self.out_features = 3 * c3
        h1, h2 = _ch(128, width), _ch(64, width)
        self.depth_head = nn.Sequential(cdc_bn_relu(3 * c3, h1, theta), cdc_bn_relu(h1, h2, theta), CDConv2d(h2, 1, theta=theta),
                                        nn.ReLU())

    def multi_scale(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        size = (self.depth_size, self.depth_size)
        outs = []
        for block in self.blocks:
            x = block(x)
            outs.append(x if x.shape[-1] == self.depth_size else F.interpolate(x, size=size, mode="bilinear", align_corners=False))
        return torch.cat(outs, dim=1)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        multi = self.multi_scale(x)
        return multi, multi.mean(dim=(2, 3))

    def depth(self, multi: torch.Tensor) -> torch.Tensor:
        return self.depth_head(multi)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.multi_scale(x).mean(dim=(2, 3))


@register_backbone("cdcn")
def cdcn(width: float = 1.0, depth_size: int = 32, theta: float = THETA) -> nn.Module:
    return CDCN(width=float(width), depth_size=int(depth_size), theta=float(theta))
