"""Baseline: the note's backbone + binary cross-entropy on the protocol's training split.

This is the "Baseline" column of every Results table, and a runnable experiment of its own.
"""

from __future__ import annotations

import inspect

from vaultlab import registry
from vaultlab.recipes.base import (
    ArmScores, Recipe, RecipeContext, RecipeResult, dev_test_scores, fit_input_size, register_recipe, train_bce_classifier,
)


def backbone_options(ctx: RecipeContext, backbone: str | None = None) -> dict:
    """The card's ``backbone_*`` settings (AlexNet's slim head, DepthNet's width, ViT's number of blocks …)
    as builder options; with ``backbone``, only those its builder
    accepts (a composed card's ``backbone_depth`` cuts ViT's blocks and means nothing to a ResNet)."""
    options = {k.removeprefix("backbone_"): v for k, v in ctx.hp.items() if k.startswith("backbone_")}
    if backbone is None:
        return options
    accepted = inspect.signature(registry.load("backbone", backbone)).parameters
    return {k: v for k, v in options.items() if k in accepted}


def run_baseline_arm(ctx: RecipeContext, backbone: str, stage: str = "baseline", *, options: dict | None = None,
                     what: str | None = None) -> ArmScores:
    """``backbone`` + BCE on the protocol's training split, scored on dev and test: the Baseline column.
    ``options`` go to the backbone's builder (default: the card's ``backbone_*`` keys it accepts);
    ``what`` names the network in the arm's description (default: the backbone id)."""
    model, _ = train_bce_classifier(ctx, stage, ctx.splits.train, backbone, epochs=int(ctx.require("epochs")), seed_offset=7,
                                    backbone_options=backbone_options(ctx, backbone) if options is None else options)
    dev, test = dev_test_scores(ctx, model)
    return ArmScores("baseline", f"{what or backbone} + BCE on {ctx.splits.protocol} training data", dev, test)


@register_recipe
class Baseline(Recipe):
    name = "baseline"
    backbones = "any"
    hparams = {"backbone_head": "str", "backbone_width": "float", "backbone_fc_dim": "int", "backbone_depth": "int",
               "backbone_weight_init": "str"}

    def run(self, ctx: RecipeContext) -> RecipeResult:
        backbone = str(ctx.components["backbone"])
        ctx, notes = fit_input_size(ctx, backbone)
        arm = run_baseline_arm(ctx, backbone)
        return RecipeResult(arms={"method": ArmScores("method", arm.description, arm.dev, arm.test)}, notes=notes)
