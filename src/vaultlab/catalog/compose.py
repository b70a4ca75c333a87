"""What a recipe can build from a note's components, and how a note that matches no card is composed.

Torch-free: everything comes from the registry's manifest (``vaultlab.registry``). A recipe states
in its class literals which backbones (``backbones = "any"`` or a tuple; unset = its card's own) and
which losses (``losses = "any"``: every registered loss, weighted by the components) it trains.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vaultlab import registry
from vaultlab.catalog.cards import Assumption, MethodCard
from vaultlab.catalog.vocabulary import normalise_term

# a supervision term no named loss covers gets this loss (weight 1), said as an assumption
SUPERVISION_LOSSES = {"binary": "bce", "depth": "depth_mse", "parsing": "segmentation_ce", "binary_mask": "pixel_bce"}
SUPERVISION_HEADS = {"binary": ("binary", "pixel"), "depth": ("depth",), "parsing": ("parsing",), "binary_mask": ("pixel",)}
SCORE_HEADS = ("binary", "depth", "pixel")  # must match recipes.composed.SCORE_HEADS (checked by a test)
AVAILABLE_INPUTS = ("rgb",)  # SynthFAS and the real-dataset adapters give RGB frames
DG_PROTOCOL = "lodo:D3"
_DG_TERMS = {"domaingeneralization", "domaingeneralisation", "dg"}


@dataclass(frozen=True)
class Blocker:
    """A known term the recipe cannot build: why, and the closest terms it can."""

    component: str  # "backbone" | "losses" | "supervision" | "input"
    term: str
    reason: str
    suggestions: tuple[str, ...] = ()

    def __str__(self) -> str:
        hint = f" (closest it can build: {', '.join(self.suggestions)})" if self.suggestions else ""
        return f"{self.component} {self.term!r}: {self.reason}{hint}"


def recipe_meta(recipe: str) -> dict[str, Any]:
    entry = registry.manifest()["recipe"].get(recipe)
    return dict(entry.meta) if entry else {}


def composes_losses(card: MethodCard | None) -> bool:
    return card is not None and recipe_meta(card.recipe).get("losses") == "any"


def blockers(card: MethodCard, components: dict[str, Any], variant_backbones: list[str]) -> list[Blocker]:
    """Every component value ``card.recipe`` cannot build (plain component values, not ``Resolved``)."""
    meta = recipe_meta(card.recipe)
    found: list[Blocker] = []
    allowed = meta.get("backbones")
    own = [card.components.get("backbone"), *(v.get("backbone") for v in card.variants.values())]
    for backbone in dict.fromkeys([components.get("backbone"), *variant_backbones]):
        if backbone is None:
            continue
        if allowed == "any":
            if not registry.known("backbone", backbone):
                found.append(Blocker("backbone", backbone, "no backbone builder is registered for it",
                                     tuple(registry.closest(backbone, registry.names("backbone")))))
        elif backbone not in (allowed or own):
            options = list(allowed or (b for b in own if b))
            found.append(Blocker("backbone", backbone, f"recipe {card.recipe!r} trains only {', '.join(options)}", tuple(options)))
    if meta.get("losses") != "any":
        return found
    weights = {loss: w for loss, w in (components.get("losses") or {}).items() if w > 0}
    heads: set[str] = set()
    for loss in weights:
        if registry.known("loss", loss):
            heads.update(registry.entry("loss", loss).meta.get("heads", ()))
        else:
            found.append(Blocker("losses", loss, "no composable implementation is registered (it needs more than a backbone and heads)",
                                 tuple(registry.closest(loss, registry.names("loss")))))
    if weights and not heads & set(SCORE_HEADS) and all(registry.known("loss", loss) for loss in weights):
        found.append(Blocker("losses", ", ".join(weights), "no loss gives a live/spoof score (a binary, depth or pixel-wise loss)",
                             ("bce", "depth_mse", "pixel_bce")))
    for term in components.get("supervision") or []:
        if term not in SUPERVISION_LOSSES:
            found.append(Blocker("supervision", term, "no loss or dataset target provides it", tuple(SUPERVISION_LOSSES)))
    for part in str(components.get("input") or "rgb").split("+"):
        if part not in AVAILABLE_INPUTS:
            found.append(Blocker("input", part, "the datasets give RGB frames only (--set input=rgb runs on RGB, knowingly)", AVAILABLE_INPUTS))
    return found


def is_baseline(weights: dict[str, float]) -> bool:
    """The composed method is the Baseline itself: its one positive-weight loss is BCE."""
    return [loss for loss, w in weights.items() if w > 0] == ["bce"]


def supervision_losses(components: dict[str, Any]) -> list[tuple[str, str]]:
    """(supervision term, loss id) for each supervision term no named loss covers: the loss to add."""
    weights = components.get("losses") or {}
    heads = {h for loss in weights if registry.known("loss", loss) for h in registry.entry("loss", loss).meta.get("heads", ())}
    added = []
    for term in components.get("supervision") or []:
        if term in SUPERVISION_LOSSES and not heads & set(SUPERVISION_HEADS[term]) and SUPERVISION_LOSSES[term] not in weights:
            added.append((term, SUPERVISION_LOSSES[term]))
    return added


def says_domain_generalisation(tags: Any, approach: str) -> bool:
    """The note's tags or its Approach name domain generalisation (DG)."""
    if isinstance(tags, str):
        tags = [tags]
    words = [str(t) for t in tags or []] + [part for part in approach.replace(";", ",").split(",")]
    if any(normalise_term(w) in _DG_TERMS for w in words):
        return True
    folded = normalise_term(approach)
    return "domaingeneralization" in folded or "domaingeneralisation" in folded


def composition_assumptions(components: dict[str, Any], dg: bool) -> list[Assumption]:
    """Every choice composition makes, for ``vaultlab show`` and the result note."""
    backbone = components.get("backbone")
    weights = {loss: w for loss, w in (components.get("losses") or {}).items() if w > 0}
    heads: list[str] = []
    out = [Assumption("method", "no method card matches: composed from the note's backbone, losses and supervision",
                      "[I] vaultlab composition (recipes/composed.py)"),
           Assumption("backbone", f"{backbone}: registered builder (timm / torchvision / vaultlab.nn), no pretrained weights "
                      "unless --pretrained; feature map = deepest stage with stride ≤ 16, embedding = its global average",
                      "[I] vaultlab composition (nn/backbones.py)")]
    for loss, weight in weights.items():
        meta = registry.entry("loss", loss).meta if registry.known("loss", loss) else {}
        heads += [h for h in meta.get("heads", ()) if h not in heads]
        out.append(Assumption(f"loss {loss} (weight {weight:g})", str(meta.get("choice", "")), "[I] vaultlab composition (nn/objectives.py)"))
    out.append(Assumption("heads", ", ".join(heads) or "—", "[I] vaultlab composition: one head per output the losses read (nn/heads.py)"))
    scorer = next((h for h in SCORE_HEADS if h in heads), None)
    if scorer:
        how = {"binary": "sigmoid of the binary logit", "depth": "mean of the predicted depth map",
               "pixel": "mean of the pixel-wise bona fide map (DeepPixBiS)"}[scorer]
        out.append(Assumption("score", how, "[I] vaultlab composition: classifier first, else depth, else pixel map"))
    out.append(Assumption("protocol", f"{DG_PROTOCOL} (the note says domain generalisation)" if dg else "intra (the note does not say domain generalisation)",
                          "[I] vaultlab composition: lodo when a tag or the Approach names domain generalisation"))
    if components.get("temporal") == "dynamic":
        out.append(Assumption("temporal", "frames are trained and scored one at a time; a video's score is the mean of its frames",
                              "[I] vaultlab composition: no temporal model is composed (the note says dynamic)"))
    if is_baseline(weights):
        out.append(Assumption("Baseline column", f"none: the note's method is {backbone} + BCE alone, the Baseline itself", "[I] DESIGN.md §7"))
    else:
        out.append(Assumption("Baseline column", f"{backbone} + BCE alone, same data and schedule", "[I] DESIGN.md §7"))
    out.append(Assumption("loss weights", "a loss named without a weight weighs 1; a loss not named weighs 0",
                          "[I] vaultlab rule (recipes.base.RecipeContext.loss_weight)"))
    return out
