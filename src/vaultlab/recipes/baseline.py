"""Baseline: the note's backbone + binary cross-entropy on the protocol's training split.

This is the "Baseline" column of every Results table, and a runnable experiment of its own.
"""

from __future__ import annotations

from vaultlab.recipes.base import ArmScores, Recipe, RecipeContext, RecipeResult, dev_test_scores, register_recipe, train_bce_classifier


def backbone_options(ctx: RecipeContext) -> dict:
    """Options the card may set for the backbone (e.g. AlexNet's slim head in the quick profile)."""
    return {k.removeprefix("backbone_"): v for k, v in ctx.hp.items() if k.startswith("backbone_")}


def run_baseline_arm(ctx: RecipeContext, backbone: str, stage: str = "baseline") -> ArmScores:
    model, _ = train_bce_classifier(ctx, stage, ctx.splits.train, backbone, epochs=int(ctx.require("epochs")),
                                    seed_offset=7, backbone_options=backbone_options(ctx))
    dev, test = dev_test_scores(ctx, model)
    return ArmScores("baseline", f"{backbone} + BCE on {ctx.splits.protocol} training data", dev, test)


@register_recipe
class Baseline(Recipe):
    name = "baseline"

    def run(self, ctx: RecipeContext) -> RecipeResult:
        arm = run_baseline_arm(ctx, str(ctx.components["backbone"]))
        return RecipeResult(arms={"method": ArmScores("method", arm.description, arm.dev, arm.test)})
