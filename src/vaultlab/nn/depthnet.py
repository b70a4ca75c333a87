"""DepthNet + UNet: the multi-task network of Chuang, Wang, Lai (FG 2023, "OneSideTriplet").

Encoder: the MADDG / RFMeta / SSDG-M "DepthNet" feature extractor (papers.md §2.3 [R/I]; layer plan
[V] rshaojimmy/RFMetaFAS ``models/DGFANet.py``): a 3×3 stem, then three blocks of three 3×3
conv-BN-ReLU layers (64→128→196→128 channels) each ending in a 2× max-pool. The three block outputs,
resized to the depth map's size and concatenated, are the shared multi-scale feature map. A
``width`` multiplier shrinks every layer for the CPU ``quick`` profile.

Heads on that encoder:
- ``DepthHead``: 3×3 convs on the multi-scale map → one depth channel in [0, 1] (32×32 by default);
- ``ParsingDecoder``: UNet-style upsampling path with skip connections from the stem and the three
  blocks → per-pixel parsing logits at input resolution;
- ``classifier``: RFMeta's "FeatEmbedder" trunk (conv-pool-conv-pool → FC) + one bona fide logit;
  the meta-learner that the inner step adapts.

``build_backbone("depthnet", width=...)`` is encoder + classifier trunk, the same network without
the auxiliary heads: the Baseline column ("same backbone + BCE").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vaultlab.nn.backbones import register_backbone

_BLOCK = (128, 196, 128)  # RFMeta's DepthNet block widths
_STEM = 64


def _ch(c: int, width: float) -> int:
    return max(8, int(round(c * width)))


def conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class DepthNetEncoder(nn.Module):
    """Images [B,3,H,W] → (skips, multi-scale map). skips = [stem H, block1 H/2, block2 H/4, block3 H/8]."""

    def __init__(self, width: float = 1.0, map_size: int = 32):
        super().__init__()
        stem, (c1, c2, c3) = _ch(_STEM, width), (_ch(c, width) for c in _BLOCK)
        self.stem = conv_bn_relu(3, stem)
        blocks, cin = [], stem
        for _ in range(3):
            blocks.append(nn.Sequential(conv_bn_relu(cin, c1), conv_bn_relu(c1, c2), conv_bn_relu(c2, c3), nn.MaxPool2d(3, 2, 1)))
            cin = c3
        self.blocks = nn.ModuleList(blocks)
        self.map_size = map_size
        self.stem_channels, self.block_channels = stem, c3
        self.map_channels = 3 * c3

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        skips = [self.stem(x)]
        for block in self.blocks:
            skips.append(block(skips[-1]))
        size = (self.map_size, self.map_size)
        multi = torch.cat([F.interpolate(s, size=size, mode="bilinear", align_corners=False) if s.shape[-1] != self.map_size else s
                           for s in skips[1:]], dim=1)
        return skips, multi


class DepthHead(nn.Module):
    """RFMeta's DepthEstmator: 3×3 convs 384→128→64→1 on the multi-scale map; sigmoid keeps it in [0, 1]."""

    def __init__(self, cin: int, width: float = 1.0):
        super().__init__()
        self.net = nn.Sequential(conv_bn_relu(cin, _ch(128, width)), conv_bn_relu(_ch(128, width), _ch(64, width)),
                                 nn.Conv2d(_ch(64, width), 1, 3, padding=1))

    def forward(self, multi: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(multi))


class ParsingDecoder(nn.Module):
    """UNet decoder: from block3 up to input resolution, concatenating the encoder skip at each scale."""

    def __init__(self, stem: int, block: int, classes: int, width: float = 1.0):
        super().__init__()
        c = _ch(64, width)
        self.up = nn.ModuleList([conv_bn_relu(block + block, c), conv_bn_relu(c + block, c), conv_bn_relu(c + stem, c)])
        self.out = nn.Conv2d(c, classes, 1)

    def forward(self, skips: list[torch.Tensor]) -> torch.Tensor:
        x = skips[3]
        for conv, skip in zip(self.up, (skips[2], skips[1], skips[0])):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = conv(torch.cat([x, skip], dim=1))
        return self.out(x)


class ClassifierTrunk(nn.Module):
    """RFMeta's FeatEmbedder without its last layer: conv-BN-ReLU-pool ×2, global pool, FC → features."""

    def __init__(self, cin: int, width: float = 1.0, fc_dim: int = 512):
        super().__init__()
        c1, c2 = _ch(128, width), _ch(256, width)
        self.convs = nn.Sequential(conv_bn_relu(cin, c1), nn.MaxPool2d(2), conv_bn_relu(c1, c2), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Sequential(nn.Linear(c2, fc_dim), nn.ReLU(inplace=True))
        self.out_features = fc_dim

    def forward(self, multi: torch.Tensor) -> torch.Tensor:
        return self.fc(self.convs(multi))


def init_weights(module: nn.Module, scheme: str = "xavier") -> nn.Module:
    """RFMeta initialises conv and linear weights with Xavier [V]; ``"default"`` keeps PyTorch's."""
    if scheme == "xavier":
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
    elif scheme != "default":
        raise ValueError(f"weight_init must be 'xavier' or 'default', not {scheme!r}")
    return module


class DepthNetMultiTask(nn.Module):
    """Shared DepthNet encoder + depth head + UNet parsing decoder + live/spoof classifier."""

    def __init__(self, width: float = 1.0, depth_size: int = 32, parsing_classes: int = 7, fc_dim: int = 512, weight_init: str = "xavier"):
        super().__init__()
        self.encoder = DepthNetEncoder(width, depth_size)
        self.depth_head = DepthHead(self.encoder.map_channels, width)
        self.parsing_decoder = ParsingDecoder(self.encoder.stem_channels, self.encoder.block_channels, parsing_classes, width)
        trunk = ClassifierTrunk(self.encoder.map_channels, width, fc_dim)
        self.classifier = nn.Sequential(trunk, nn.Linear(trunk.out_features, 1))
        init_weights(self, weight_init)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """All heads; ``features`` is the globally pooled multi-scale encoder map (the triplet's embedding)."""
        skips, multi = self.encoder(x)
        return {"multi": multi, "features": multi.mean(dim=(2, 3)), "depth": self.depth_head(multi),
                "parsing": self.parsing_decoder(skips), "logit": self.classifier(multi).squeeze(1)}


class DepthNetFeatures(nn.Module):
    """Encoder + classifier trunk as a plain backbone ([B,3,H,W] → [B,D]) for the BCE baseline."""

    def __init__(self, width: float = 1.0, depth_size: int = 32, fc_dim: int = 512, weight_init: str = "xavier"):
        super().__init__()
        self.encoder = DepthNetEncoder(width, depth_size)
        self.trunk = ClassifierTrunk(self.encoder.map_channels, width, fc_dim)
        self.out_features = fc_dim
        init_weights(self, weight_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(self.encoder(x)[1])


@register_backbone("depthnet")
def depthnet(width: float = 1.0, depth_size: int = 32, fc_dim: int = 512, weight_init: str = "xavier") -> nn.Module:
    return DepthNetFeatures(width=float(width), depth_size=int(depth_size), fc_dim=int(fc_dim), weight_init=str(weight_init))
