"""Heads that turn a backbone's outputs into what the losses read, registered by the output they give.

Each head is built as ``create("head", id, map_channels=C, embedding_dim=D, **options)`` and called as
``head(feature_map, embedding) → tensor``; ``ComposedNet`` (``nn/composed.py``) puts its result in the
model's outputs under the head's id. Which loss needs which head is declared on the loss
(``nn/objectives.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vaultlab.registry import register_head


class BinaryHead(nn.Module):
    """One bona fide logit from the embedding (a 2-way softmax CE is the same model)."""

    def __init__(self, embedding_dim: int, **_):
        super().__init__()
        self.fc = nn.Linear(embedding_dim, 1)

    def forward(self, feature_map: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        return self.fc(embedding).squeeze(1)


class MapHead(nn.Module):
    """3×3 conv-BN-ReLU then a 1×1 conv to ``channels`` maps, resized to ``size``×``size``."""

    def __init__(self, map_channels: int, channels: int, size: int, hidden: int = 64, sigmoid: bool = False):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(map_channels, hidden, 3, padding=1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU(inplace=True),
                                 nn.Conv2d(hidden, channels, 1))
        self.size, self.sigmoid = int(size), sigmoid

    def forward(self, feature_map: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        out = self.net(feature_map)
        if out.shape[-1] != self.size:
            out = F.interpolate(out, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return torch.sigmoid(out) if self.sigmoid else out


@register_head("binary")
def binary_head(embedding_dim: int, **_) -> nn.Module:
    return BinaryHead(embedding_dim)


@register_head("depth")
def depth_head(map_channels: int, depth_size: int = 32, **_) -> nn.Module:
    """A depth map in [0, 1] ([B,1,s,s]), the target of depth MSE and contrastive depth."""
    return MapHead(map_channels, 1, depth_size, sigmoid=True)


@register_head("pixel")
def pixel_head(map_channels: int, pixel_size: int = 14, **_) -> nn.Module:
    """DeepPixBiS's pixel-wise bona fide logits ([B,1,s,s]; George & Marcel, ICB 2019: 14×14 at 224 px)."""
    return MapHead(map_channels, 1, pixel_size)


@register_head("parsing")
def parsing_head(map_channels: int, parsing_size: int = 32, parsing_classes: int = 7, **_) -> nn.Module:
    """Per-pixel face-parsing logits ([B,K,s,s])."""
    return MapHead(map_channels, int(parsing_classes), parsing_size)


class EmbeddingHead(nn.Module):
    def __init__(self, embedding_dim: int, out_dim: int):
        super().__init__()
        self.fc = nn.Linear(embedding_dim, out_dim)

    def forward(self, feature_map: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        return self.fc(embedding)


@register_head("embedding")
def embedding_head(embedding_dim: int, metric_dim: int = 128, **_) -> nn.Module:
    """A linear projection for the metric losses (triplet, SupCon, …); they L2-normalise it themselves."""
    return EmbeddingHead(embedding_dim, int(metric_dim))


class GradientReversal(torch.autograd.Function):
    """Identity forward, −λ·gradient backward (Ganin & Lempitsky, ICML 2015)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, lam: float) -> torch.Tensor:
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.lam * grad, None


def reverse_gradient(x: torch.Tensor, lam: float = 1.0) -> torch.Tensor:
    return GradientReversal.apply(x, lam)


class DomainHead(nn.Module):
    """Domain discriminator behind a gradient reversal layer: the discriminator learns to tell domains
    apart, the backbone receives the reversed gradient and learns to hide them."""

    def __init__(self, embedding_dim: int, domains: int, hidden: int = 256, grl_lambda: float = 1.0):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(embedding_dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, domains))
        self.lam = float(grl_lambda)

    def forward(self, feature_map: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        return self.net(reverse_gradient(embedding, self.lam))


@register_head("domain")
def domain_head(embedding_dim: int, domains: int = 2, grl_lambda: float = 1.0, **_) -> nn.Module:
    return DomainHead(embedding_dim, max(2, int(domains)), grl_lambda=grl_lambda)
