"""A backbone plus the heads its losses need: the network of the ``composed`` recipe."""

from __future__ import annotations

import torch
from torch import nn

from vaultlab import registry
from vaultlab.nn.backbones import encode, map_channels

DENSE_HEADS = ("depth", "pixel", "parsing")  # heads that read the feature map, not the embedding


def heads_for(losses: list[str]) -> list[str]:
    """The heads the given losses read, in a stable order (from the registry's manifest)."""
    needed: list[str] = []
    for loss in losses:
        for head in registry.entry("loss", loss).meta.get("heads", ()):
            if head not in needed:
                needed.append(head)
    return needed


class OwnDepthHead(nn.Module):
    """A backbone's own depth head (CDCN's three CDC layers) in the head interface."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone

    def forward(self, feature_map: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        return self.backbone.depth(feature_map)


class ComposedNet(nn.Module):
    """``forward(x)`` → ``{head id: output}`` plus ``features`` (the pooled embedding). A backbone that
    brings its own depth head (``depth(feature_map)``, as CDCN) keeps it for the ``depth`` output."""

    def __init__(self, backbone: nn.Module, heads: list[str], **head_options):
        super().__init__()
        self.backbone = backbone
        dims = {"embedding_dim": backbone.out_features}
        self.dense = any(h in DENSE_HEADS for h in heads)
        if self.dense:
            dims["map_channels"] = map_channels(backbone)
        self.heads = nn.ModuleDict({name: OwnDepthHead(backbone) if name == "depth" and hasattr(backbone, "depth")
                                    else registry.create("head", name, **dims, **head_options) for name in heads})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        # without a dense head only the embedding is needed: any backbone will do, even one with no feature map
        feature_map, embedding = encode(self.backbone, x) if self.dense else (None, self.backbone(x))
        outputs = {"features": embedding}
        for name, head in self.heads.items():
            outputs[name] = head(feature_map, embedding)
        return outputs
