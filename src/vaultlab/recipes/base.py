"""What a recipe is: given a context (splits, hyper-parameters, the engine), train and score.

A recipe returns one or more *arms* — "method" (the paper) and "baseline" (same backbone + BCE, or
what the paper's own baseline is) — each with bona fide probabilities for the dev and test rows.
Metrics are computed elsewhere (``vaultlab.metrics``) from those scores alone.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from vaultlab import registry
from vaultlab.data.sampleset import SampleSet, Splits
from vaultlab.engine.batches import BatchSpec
from vaultlab.engine.core import Engine, StageRecord, seed_everything
from vaultlab.nn.backbones import Classifier, build_backbone, load_pretrained
from vaultlab.registry import register_recipe

__all__ = ["ArmScores", "Recipe", "RecipeContext", "RecipeError", "RecipeResult", "SharedArms", "get_recipe", "register_recipe"]


class RecipeError(ValueError):
    """A recipe cannot run with these settings (clear message for the user)."""


@dataclass
class ArmScores:
    name: str  # "method" | "baseline"
    description: str
    dev: np.ndarray  # bona fide probability per dev row
    test: np.ndarray  # bona fide probability per test row


@dataclass
class RecipeResult:
    arms: dict[str, ArmScores]
    notes: list[str] = field(default_factory=list)  # facts the result note must state (e.g. "trained from scratch")
    extra: dict[str, Any] = field(default_factory=dict)  # recorded in the run (e.g. the few-shot reference rows)


@dataclass
class SharedArms:
    """Arms that no variant of an experiment changes, kept once per seed (depthseg's baseline: the same
    encoder, seed, data and schedule under PSPNet and DeepLabV3+). The first variant's run trains and
    scores such an arm and saves its scores and training history under ``folder``; the others read them
    back instead of training it again, so every variant shows the same numbers for it. ``key`` names
    what determines the arm (the run's spec without its variant and components); a file older than
    ``fresh_since`` (``--force``: the start of this command) is trained again."""

    folder: Path
    key: str
    fresh_since: float = 0.0
    reused: list[str] = field(default_factory=list)  # the arms this run read back

    def get(self, arm: str, train: Callable[[], ArmScores], ctx: RecipeContext) -> ArmScores:
        path = self.folder / f"{self.key}-{arm}.npz"
        try:
            if path.stat().st_mtime >= self.fresh_since:
                with np.load(path) as saved:
                    dev, test, text, history = saved["dev"], saved["test"], str(saved["description"]), json.loads(str(saved["history"]))
                if len(dev) == len(ctx.splits.dev) and len(test) == len(ctx.splits.test):
                    for stage, entries in history.items():  # its curves, at 0 s: another run spent the time
                        ctx.engine.stages[stage] = StageRecord(stage, history=entries)
                    self.reused.append(arm)
                    return ArmScores(arm, text, dev, test)
        except (OSError, KeyError, ValueError):  # missing, foreign or half-written: train it here
            pass
        before = set(ctx.engine.stages)
        scores = train()
        history = {stage: record.history for stage, record in ctx.engine.stages.items() if stage not in before}
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, dev=scores.dev, test=scores.test, description=np.array(scores.description), history=np.array(json.dumps(history)))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return scores


@dataclass
class RecipeContext:
    splits: Splits
    engine: Engine
    hp: dict[str, Any]  # resolved hyper-parameters (card profile < vault config < --set)
    components: dict[str, Any]  # backbone, losses, input, variant …
    seed: int
    profile: str
    pretrained: str | None = None
    shared: SharedArms | None = None  # set by the runner; None: every arm is trained here

    def shared_arm(self, arm: str, train: Callable[[], ArmScores]) -> ArmScores:
        """``train()``'s arm, or the same arm another variant's run of this seed already trained (``SharedArms``)."""
        return train() if self.shared is None else self.shared.get(arm, train, self)

    def get(self, key: str, default: Any = None) -> Any:
        return self.hp.get(key, default)

    def loss_weight(self, loss: str) -> float:
        """The weight of ``loss`` in this run's objective. One rule everywhere: the weight the card, the
        note or ``--set losses.<id>=w`` states; a loss named without a weight weighs 1.0 (resolution
        fills that in); a loss not named at all weighs 0 — it is not part of the objective."""
        return float((self.components.get("losses") or {}).get(loss, 0.0))

    def require(self, key: str) -> Any:
        if key not in self.hp:
            raise RecipeError(f"hyper-parameter {key!r} is not set by the method card's profile {self.profile!r}; pass --set {key}=...")
        return self.hp[key]

    def batch_spec(self, **overrides) -> BatchSpec:
        base = dict(batch_size=int(self.get("batch_size", 64)), image_size=self.get("input_size"), hflip=bool(self.get("hflip", True)))
        base.update(overrides)
        return BatchSpec(**base)

    def eval_spec(self, **overrides) -> BatchSpec:
        spec = self.batch_spec(**overrides)
        spec.hflip = False
        spec.batch_size = max(spec.batch_size, 128)
        return spec


class Recipe:
    """A training procedure. Subclasses set ``name`` (the card's ``recipe:`` id), declare the
    hyper-parameters they read in ``hparams`` ({key: "int" | "float" | "bool" | "str" | "list"},
    besides ``registry.SHARED_HPARAMS``; the values live in the card's profiles), ``backbones =
    "any"`` when they build any registered backbone rather than only their card's, and ``losses =
    "any"`` when they train on whichever registered losses the components weigh. All are literals:
    the torch-free manifest reads them from source."""

    name: ClassVar[str]

    def run(self, ctx: RecipeContext) -> RecipeResult:  # pragma: no cover - interface
        raise NotImplementedError


def get_recipe(name: str) -> Recipe:
    try:
        return registry.load("recipe", name)()
    except registry.UnknownComponent as exc:
        raise RecipeError(str(exc)) from None


# -- shared pieces: the backbone + BCE classifier that every Baseline column uses ------------------

def fit_input_size(ctx: RecipeContext, backbone: str) -> tuple[RecipeContext, list[str]]:
    """A context whose ``input_size`` is at least what ``backbone`` needs (AlexNet's pools need 64 px),
    with the note the result must carry when it had to change; images are resized on the device."""
    minimum = int(registry.entry("backbone", backbone).meta.get("min_input", 0)) if registry.known("backbone", backbone) else 0
    size = ctx.get("input_size")
    if size is None or int(size) >= minimum:
        return ctx, []
    return replace(ctx, hp={**ctx.hp, "input_size": minimum}), [f"{backbone} needs at least {minimum} px: images were resized from {size} to {minimum} px."]


def make_optimizer(params, hp: dict[str, Any], prefix: str = "") -> torch.optim.Optimizer:
    lr = float(hp.get(f"{prefix}lr", hp.get("lr", 1e-3)))
    wd = float(hp.get(f"{prefix}weight_decay", hp.get("weight_decay", 0.0)))
    name = str(hp.get(f"{prefix}optimizer", hp.get("optimizer", "adam"))).lower()
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=wd)
    raise RecipeError(f"optimizer {name!r} is not one of adam, adamw, sgd")


def build_classifier(ctx: RecipeContext, backbone: str, **options) -> Classifier:
    return init_network(ctx, Classifier(build_backbone(backbone, **options)))


def init_network(ctx: RecipeContext, net: torch.nn.Module, load=load_pretrained) -> torch.nn.Module:
    """Local weights (``--pretrained``) when given, said out loud; then onto the engine's device/layout."""
    if ctx.pretrained:
        loaded = load(net, ctx.pretrained)
        ctx.engine.console.print(f"[green]loaded {len(loaded)} tensors from {ctx.pretrained}[/green]")
    return ctx.engine.prepare(net)


def bce_step(model: Classifier):
    """The training step of a classifier: the registered ``bce`` loss on its logit."""
    bce = registry.create("loss", "bce")
    return lambda batch: {"loss": bce({"binary": model(batch["image"])}, batch)}


def train_bce_classifier(ctx: RecipeContext, stage: str, data: SampleSet, backbone: str, *, epochs: int,
                         seed_offset: int = 0, backbone_options: dict | None = None, prefix: str = "") -> tuple[Classifier, StageRecord]:
    """Backbone + BCE on ``data``: the baseline everywhere, the teacher in distillation."""
    seed_everything(ctx.seed * 1_000 + seed_offset)
    model = build_classifier(ctx, backbone, **(backbone_options or {}))
    optimizer = make_optimizer(model.parameters(), ctx.hp, prefix)
    batches = ctx.engine.batches(data, ctx.batch_spec(balanced=bool(ctx.get("balanced", False))), shuffle=True,
                                 seed=ctx.seed * 1_000 + seed_offset, steps_per_epoch=ctx.get(f"{prefix}steps_per_epoch"))
    record = ctx.engine.fit(stage, {"model": model}, optimizer, batches, bce_step(model), epochs, seed=ctx.seed * 1_000 + seed_offset)
    return model, record


def score_classifier(ctx: RecipeContext, model: Classifier, data: SampleSet) -> np.ndarray:
    batches = ctx.engine.batches(data, ctx.eval_spec(), shuffle=False)
    # float64 sigmoid: float32 rounds confident scores to exactly 1.0, and ties blunt the ROC
    return ctx.engine.predict([model], lambda b: torch.sigmoid(model(b["image"]).double()), batches)


def dev_test_scores(ctx: RecipeContext, model: Classifier) -> tuple[np.ndarray, np.ndarray]:
    return score_classifier(ctx, model, ctx.splits.dev), score_classifier(ctx, model, ctx.splits.test)
