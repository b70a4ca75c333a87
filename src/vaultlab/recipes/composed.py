"""Composed: a note whose Method matches no card, run from its parts.

The note names a backbone and losses (and supervision) that are all registered components; the
catalog (``catalog/compose.py``) has already resolved them, added a loss for supervision no named loss
covers, and recorded every choice as an assumption. Here:

- build the backbone plus the heads those losses read (binary logit, depth map, pixel map, parsing
  map, embedding, domain discriminator behind gradient reversal);
- train on Σ_i w_i · L_i(outputs, batch), the weights of ``components["losses"]``;
- score by the classifier (sigmoid of the logit), or, without a binary loss, by the mean of the
  depth map, else of the pixel-wise map (DeepPixBiS);
- the Baseline arm is the same backbone with BCE alone (``recipes/baseline.py``); a note whose only
  loss is BCE is that baseline, and gets no second arm.
"""

from __future__ import annotations

import inspect

import numpy as np
import torch
from torch import nn

from vaultlab import registry
from vaultlab.catalog.compose import is_baseline
from vaultlab.data.sampleset import SampleSet
from vaultlab.engine.core import seed_everything
from vaultlab.nn.backbones import build_backbone
from vaultlab.nn.composed import ComposedNet, heads_for
from vaultlab.recipes.base import (
    ArmScores, Recipe, RecipeContext, RecipeError, RecipeResult, fit_input_size, init_network, make_optimizer, register_recipe,
)
from vaultlab.recipes.baseline import backbone_options, run_baseline_arm

SCORE_HEADS = ("binary", "depth", "pixel")  # which output scores a face, in order of preference


def score_from(heads: list[str]) -> str:
    for head in SCORE_HEADS:
        if head in heads:
            return head
    raise RecipeError(f"no loss gives a live/spoof score (one of {', '.join(SCORE_HEADS)} heads); add one, e.g. --set losses.bce=1")


def bona_fide_probability(outputs: dict[str, torch.Tensor], head: str) -> torch.Tensor:
    """Score = probability of bona fide: sigmoid of the logit, or the mean of the depth / pixel map."""
    if head == "binary":
        return torch.sigmoid(outputs["binary"].double())  # float64: float32 rounds confident scores to 1.0
    if head == "depth":
        return outputs["depth"].double().mean(dim=(1, 2, 3)).clamp(0.0, 1.0)
    return torch.sigmoid(outputs["pixel"].double()).mean(dim=(1, 2, 3))


@register_recipe
class Composed(Recipe):
    name = "composed"
    backbones = "any"
    losses = "any"
    hparams = {"backbone_width": "float", "backbone_depth": "int", "depth_size": "int", "pixel_size": "int", "metric_dim": "int",
               "grl_lambda": "float"}

    def network(self, ctx: RecipeContext, backbone: str, heads: list[str]) -> nn.Module:
        """The backbone (with the card's ``backbone_*`` options its builder takes) plus the heads."""
        options = backbone_options(ctx, backbone)
        if "depth_size" in inspect.signature(registry.load("backbone", backbone)).parameters:
            options["depth_size"] = int(ctx.require("depth_size"))  # CDCN's multi-scale map is the depth map's size
        train = ctx.splits.train
        return ComposedNet(build_backbone(backbone, **options), heads, depth_size=int(ctx.require("depth_size")),
                           pixel_size=int(ctx.require("pixel_size")), parsing_size=int(ctx.require("depth_size")),
                           parsing_classes=len(train.meta.get("parsing_classes") or ()) or 7, domains=len(train.domains()),
                           metric_dim=int(ctx.require("metric_dim")), grl_lambda=float(ctx.require("grl_lambda")))

    def run(self, ctx: RecipeContext) -> RecipeResult:
        backbone = str(ctx.components["backbone"])
        ctx, notes = fit_input_size(ctx, backbone)
        weights = {loss: ctx.loss_weight(loss) for loss in (ctx.components.get("losses") or {}) if ctx.loss_weight(loss) > 0}
        if not weights:
            raise RecipeError("no loss has a positive weight")
        losses = {name: registry.create("loss", name) for name in weights}
        heads = heads_for(list(weights))
        scorer = score_from(heads)
        targets = {t for name in weights for t in registry.entry("loss", name).meta.get("targets", ())}
        size = int(ctx.require("depth_size"))

        seed = ctx.seed * 1_000 + 1
        seed_everything(seed)
        net = init_network(ctx, self.network(ctx, backbone, heads))
        spec = ctx.batch_spec(balanced=bool(ctx.require("balanced")), depth_size=size if "depth" in targets else None,
                              parsing_size=size if "parsing" in targets else None)
        batches = ctx.engine.batches(ctx.splits.train, spec, shuffle=True, seed=seed, steps_per_epoch=ctx.get("steps_per_epoch"))

        def step(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            outputs = net(batch["image"])
            parts = {name: loss(outputs, batch) for name, loss in losses.items()}
            return {"loss": sum(weights[name] * value for name, value in parts.items()), **parts}

        ctx.engine.fit(self.name, {"model": net}, make_optimizer(net.parameters(), ctx.hp), batches, step, int(ctx.require("epochs")), seed=seed)
        dev, test = (self.score(ctx, net, scorer, data) for data in (ctx.splits.dev, ctx.splits.test))
        recipe = " + ".join(f"{w:g}·{name}" for name, w in weights.items())
        method = ArmScores("method", f"{backbone} + heads [{', '.join(heads)}], trained on {recipe}; scored by the {scorer} output", dev, test)
        notes = [*notes, f"Composed from the note's components: {backbone}, losses {recipe}; score from the {scorer} head."]
        if is_baseline(weights):  # a second BCE network would differ from this one only by its seed
            return RecipeResult(arms={"method": method}, notes=[*notes, "No Baseline arm: the note's method is the backbone with BCE alone."])
        return RecipeResult(arms={"method": method, "baseline": run_baseline_arm(ctx, backbone)}, notes=notes)

    def score(self, ctx: RecipeContext, net: nn.Module, head: str, data: SampleSet) -> np.ndarray:
        batches = ctx.engine.batches(data, ctx.eval_spec(), shuffle=False)
        return ctx.engine.predict([net], lambda b: bona_fide_probability(net(b["image"]), head), batches)
