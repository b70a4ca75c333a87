"""DepthNet + UNet: the multi-task network of Chuang, Wang, Lai (FG 2023, "OneSideTriplet").

The DepthNet part follows RFMeta's public code layer by layer (papers.md §2.3 [V],
rshaojimmy/RFMetaFAS ``models/DGFANet.py``):

- ``DepthNetEncoder`` = ``FeatExtractor``: ``inc`` (3×3 conv → 64, BN, ReLU), then three ``Downconv``
  blocks, each 3×3 convs 128 → 196 → 128 with BN + ReLU after each and a ``MaxPool2d(2)``; outputs
  dx1 (inc), dx2, dx3, dx4. The shared map is ``cat(adaptive_avg_pool2d(dx2, s),
  adaptive_avg_pool2d(dx3, s), dx4)`` (384 channels) with s = dx4's size (32 at RFMeta's 256 px).
- ``DepthHead`` = ``DepthEstmator``: 3×3 convs 384 → 128 → 64 → 1, each followed by BN + ReLU
  (no sigmoid: the map is ≥ 0, unbounded above, regressed with MSE onto [0, 1] targets).
- ``FeatEmbedder`` = RFMeta's classifier, the meta-learner: it reads **dx4 alone**; conv blocks 128
  (+ MaxPool 2), 256 (+ MaxPool 2), 512, adaptive average pooling, fc 512 → 1.

Differences from RFMeta, each an assumption in ``methods/onesidetriplet.yaml``: RGB input (RFMeta feeds
RGB+HSV, 6 channels); a ``width`` multiplier that shrinks every layer for the CPU ``quick`` profile;
the shared map is pooled to dx4's size, which is 32 only at 256 px input.

Added for paper 2 (not in RFMeta): ``ParsingDecoder``, a UNet path from dx4 up to input resolution
with skips from dx3, dx2 and dx1; and the FeatEmbedder's pooled 512-d feature as the one-side
triplet's embedding (so the meta-test triplet goes through the adapted classifier weights).

``build_backbone("depthnet", width=...)`` is encoder + FeatEmbedder trunk, the same network without
the auxiliary heads: the Baseline column ("same backbone + BCE").
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vaultlab.nn.backbones import register_backbone

_BLOCK = (128, 196, 128)  # RFMeta's Downconv widths
_STEM = 64
_EMBEDDER = (128, 256, 512)  # RFMeta's FeatEmbedder conv blocks


def _ch(c: int, width: float) -> int:
    return max(8, int(round(c * width)))


def conv_bn_relu(cin: int, cout: int) -> nn.Sequential:
    """RFMeta's conv3x3 (bias on, as in its code) + BatchNorm + ReLU."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class DepthNetEncoder(nn.Module):
    """Images [B,3,H,W] → (skips [dx1 H, dx2 H/2, dx3 H/4, dx4 H/8], shared 3·C-channel map at H/8)."""

    def __init__(self, width: float = 1.0, in_channels: int = 3):
        super().__init__()
        stem, (c1, c2, c3) = _ch(_STEM, width), (_ch(c, width) for c in _BLOCK)
        self.inc = conv_bn_relu(in_channels, stem)
        blocks, cin = [], stem
        for _ in range(3):
            blocks.append(nn.Sequential(conv_bn_relu(cin, c1), conv_bn_relu(c1, c2), conv_bn_relu(c2, c3), nn.MaxPool2d(2)))
            cin = c3
        self.blocks = nn.ModuleList(blocks)
        self.stem_channels, self.block_channels = stem, c3
        self.map_channels = 3 * c3

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        skips = [self.inc(x)]
        for block in self.blocks:
            skips.append(block(skips[-1]))
        dx2, dx3, dx4 = skips[1:]
        size = dx4.shape[-2:]
        multi = torch.cat([F.adaptive_avg_pool2d(dx2, size), F.adaptive_avg_pool2d(dx3, size), dx4], dim=1)
        return skips, multi


class DepthHead(nn.Module):
    """RFMeta's DepthEstmator: 3×3 convs 384 → 128 → 64 → 1, each with BN + ReLU (no sigmoid)."""

    def __init__(self, cin: int, width: float = 1.0):
        super().__init__()
        c1, c2 = _ch(128, width), _ch(64, width)
        self.net = nn.Sequential(conv_bn_relu(cin, c1), conv_bn_relu(c1, c2), conv_bn_relu(c2, 1))

    def forward(self, multi: torch.Tensor) -> torch.Tensor:
        return self.net(multi)


class FeatEmbedder(nn.Module):
    """RFMeta's classifier on dx4: conv blocks 128 (+pool 2), 256 (+pool 2), 512, global average, fc → 1 logit.

    ``forward(dx4)`` gives the [B] logit; ``forward(dx4, with_features=True)`` also the pooled [B, 512]
    feature. Called through ``torch.func.functional_call`` with adapted parameters, both come from θ'.
    """

    def __init__(self, cin: int, width: float = 1.0):
        super().__init__()
        c1, c2, c3 = (_ch(c, width) for c in _EMBEDDER)
        self.features = nn.Sequential(conv_bn_relu(cin, c1), nn.MaxPool2d(2), conv_bn_relu(c1, c2), nn.MaxPool2d(2),
                                      conv_bn_relu(c2, c3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(c3, 1)
        self.out_features = c3

    def forward(self, dx4: torch.Tensor, with_features: bool = False):
        features = self.features(dx4)
        logit = self.fc(features).squeeze(1)
        return (logit, features) if with_features else logit


class ParsingDecoder(nn.Module):
    """UNet decoder: from dx4 up to input resolution, concatenating the encoder skip at each scale."""

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
    """Shared DepthNet encoder + depth head + UNet parsing decoder + FeatEmbedder classifier (on dx4)."""

    def __init__(self, width: float = 1.0, parsing_classes: int = 7, weight_init: str = "xavier"):
        super().__init__()
        self.encoder = DepthNetEncoder(width)
        self.depth_head = DepthHead(self.encoder.map_channels, width)
        self.parsing_decoder = ParsingDecoder(self.encoder.stem_channels, self.encoder.block_channels, parsing_classes, width)
        self.classifier = FeatEmbedder(self.encoder.block_channels, width)
        init_weights(self, weight_init)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """All heads; ``features`` is the classifier's pooled feature (the triplet's embedding)."""
        skips, multi = self.encoder(x)
        logit, features = self.classifier(skips[3], with_features=True)
        return {"multi": multi, "dx4": skips[3], "features": features, "depth": self.depth_head(multi),
                "parsing": self.parsing_decoder(skips), "logit": logit}


class DepthNetFeatures(nn.Module):
    """Encoder + FeatEmbedder trunk as a plain backbone ([B,3,H,W] → [B,512·width]) for the BCE baseline."""

    def __init__(self, width: float = 1.0, weight_init: str = "xavier"):
        super().__init__()
        self.encoder = DepthNetEncoder(width)
        self.trunk = FeatEmbedder(self.encoder.block_channels, width).features
        self.out_features = _ch(_EMBEDDER[-1], width)
        init_weights(self, weight_init)
        self.map_channels = self.encoder.map_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(self.encoder(x)[0][3])

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(multi-scale map that RFMeta's depth head reads, the classifier trunk's embedding of dx4) in one pass."""
        skips, multi = self.encoder(x)
        return multi, self.trunk(skips[3])


@register_backbone("depthnet")
def depthnet(width: float = 1.0, weight_init: str = "xavier") -> nn.Module:
    return DepthNetFeatures(width=float(width), weight_init=str(weight_init))
