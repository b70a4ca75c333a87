"""CDCN (Yu et al., CVPR 2020, "Searching Central Difference Convolutional Networks for Face
Anti-Spoofing"): the central-difference network with its own depth head, trained on depth MSE +
contrastive depth loss, each face scored by the mean of its predicted depth map.

Everything but the network comes from ``composed``: this module exists because CDCN fixes its
backbone (``nn/cdcn.py``, θ from the card) rather than taking the note's.
"""

from __future__ import annotations

from torch import nn

from vaultlab.nn.backbones import build_backbone
from vaultlab.nn.composed import ComposedNet
from vaultlab.recipes.base import RecipeContext, RecipeError, register_recipe
from vaultlab.recipes.composed import Composed


@register_recipe
class CDCNRecipe(Composed):
    name = "cdcn"
    backbones = ("cdcn",)
    losses = "any"
    hparams = {"backbone_width": "float", "depth_size": "int", "theta": "float"}

    def network(self, ctx: RecipeContext, backbone: str, heads: list[str]) -> nn.Module:
        if backbone != "cdcn":
            raise RecipeError(f"recipe cdcn trains the CDCN network, not {backbone!r} (a note naming another backbone composes instead)")
        size = int(ctx.require("depth_size"))
        net = build_backbone("cdcn", width=float(ctx.require("backbone_width")), depth_size=size, theta=float(ctx.require("theta")))
        return ComposedNet(net, heads, depth_size=size, domains=len(ctx.splits.train.domains()))
