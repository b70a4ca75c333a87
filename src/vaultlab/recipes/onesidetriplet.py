"""Chuang, Wang, Lai, "Generalized Face Anti-Spoofing via Multi-Task Learning and One-Side Meta
Triplet Loss", FG 2023, arXiv 2211.15955 (papers.md §2, §5 "Paper 2").

Verified (abstract): three tasks — depth estimation, face parsing, live/spoof classification;
meta-learning simulates domain shift; a one-side triplet loss improves generalisation. Notes [V-3p]:
DepthNet+UNet; CE, triplet, depth and segmentation losses.

Implemented (the RFMeta template, papers.md §2.3 [V for RFMeta's code, R/I for this paper]):
- ``DepthNetMultiTask`` (``nn/depthnet.py``): RFMeta's DepthNet encoder, depth estimator and
  classifier (which reads dx4), plus a UNet parsing decoder (pixel CE; attacks get the assumption's
  target). The one-side triplet acts on the classifier's pooled feature.
- Each step is one episode (``meta_episode``) over one class-balanced batch per source domain: the
  domains are shuffled into meta-train and meta-test; for each meta-train domain the classifier
  (the meta-learner) takes one functional inner SGD step on its BCE,
  ``θ'_i = θ − α·∇_θ L_cls(D_i; θ)`` with ``create_graph=True`` (second order), and meta-test
  evaluates the held-out rows with every θ'_i:
  ``L = Σ_i [w_c·L_cls(D_i; θ) + w_d·L_dep(D_i) + w_p·L_parse(D_i)] + w_t·L_os(meta-train rows; θ)
      + w_mt·(Σ_i [w_c·L_cls(D_test; θ'_i) + w_t·L_os(D_test; θ'_i)] + w_d·L_dep(D_test) + w_p·L_parse(D_test))``
  with the weights w_c, w_d, w_p, w_t of ``components["losses"]`` (bce, depth_mse, segmentation_ce,
  triplet); the engine takes one optimiser step on all modules.
- ``baseline``: the same encoder + classifier trunk (``depthnet`` backbone) with BCE alone, no meta
  episodes, on the same training split.
Every unpinned choice is an assumption in ``methods/onesidetriplet.yaml``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch.func import functional_call

from vaultlab import registry
from vaultlab.data.sampleset import SampleSet
from vaultlab.engine.core import seed_everything
from vaultlab.nn.depthnet import DepthNetMultiTask
from vaultlab.nn.objectives import Loss
from vaultlab.recipes.base import ArmScores, Recipe, RecipeContext, RecipeError, RecipeResult, init_network, make_optimizer, register_recipe
from vaultlab.recipes.baseline import run_baseline_arm


def inner_step(params: dict[str, torch.Tensor], loss: torch.Tensor, step_size: float, create_graph: bool = True) -> dict[str, torch.Tensor]:
    """One differentiable SGD step: θ' = θ − α·∇_θ L_inner (MAML/MLDG; RFMeta ``meta_step_size``).

    With ``create_graph`` the returned tensors keep the graph of the gradient, so a loss computed
    with θ' back-propagates into θ through the second-order path.
    """
    grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph, allow_unused=True)
    return {name: p if g is None else p - step_size * g for (name, p), g in zip(params.items(), grads)}


class DomainEpisodes:
    """Per step, one class-balanced batch from each source domain, concatenated into one dict.

    ``batch["domain"]`` holds the domain's position in ``self.domains`` (per-domain streams would
    otherwise all code their rows as 0). Duck-types ``engine.batches`` for ``Engine.fit``.
    """

    def __init__(self, ctx: RecipeContext, data: SampleSet, spec, *, seed: int, steps_per_epoch: int | None):
        self.domains = data.domains()
        if len(self.domains) < 2:
            raise RecipeError(f"onesidetriplet's meta episodes need ≥ 2 source domains; the training split has {self.domains}")
        subsets = [data.select(data.domain == d) for d in self.domains]
        if steps_per_epoch is None:  # an epoch = the smallest domain seen once
            steps_per_epoch = max(1, min(len(s) for s in subsets) // spec.batch_size)
        self.streams = [ctx.engine.batches(s, spec, shuffle=True, seed=seed + 101 * i, steps_per_epoch=steps_per_epoch)
                        for i, s in enumerate(subsets)]

    def __len__(self) -> int:
        return len(self.streams[0])

    def epoch(self, epoch: int) -> Iterator[dict[str, torch.Tensor]]:
        for parts in zip(*(s.epoch(epoch) for s in self.streams)):
            for i, part in enumerate(parts):
                part["domain"] = torch.full_like(part["domain"], i)
            yield {key: torch.cat([p[key] for p in parts]) for key in parts[0]}


# The card's loss ids → the registered losses of an episode: the card's ``triplet`` is this paper's one-side form.
EPISODE_LOSSES = {"bce": "bce", "depth_mse": "depth_mse", "segmentation_ce": "segmentation_ce", "triplet": "one_side_triplet"}


@dataclass
class EpisodeWeights:
    """Loss weights (by the card's loss ids) and meta settings of one episode (the card's ``losses`` and profile keys)."""

    losses: dict[str, float] = field(default_factory=lambda: {"bce": 1.0, "depth_mse": 10.0, "segmentation_ce": 1.0, "triplet": 1.0})
    meta_test: float = 1.0
    step_size: float = 1e-3
    second_order: bool = True
    margin: float = 0.1
    mining: str = "batch_hard"
    spoof_parsing: str = "background"

    def build(self) -> dict[str, Loss]:
        """The registered losses, each ``loss(outputs, rows)`` (``nn/objectives.py``); attacks' depth target is zeros."""
        options = {"segmentation_ce": {"attacks": self.spoof_parsing}, "triplet": {"margin": self.margin, "mining": self.mining}}
        return {key: registry.create("loss", name, **options.get(key, {})) for key, name in EPISODE_LOSSES.items()}


def meta_episode(model: DepthNetMultiTask, batch: dict[str, torch.Tensor], train_domains: list[int], test_domains: list[int],
                 w: EpisodeWeights) -> dict[str, torch.Tensor]:
    """One RFMeta episode (rshaojimmy/RFMetaFAS ``core/train.py`` [V]) with paper 2's parsing and triplet terms [I].

    Every domain is forwarded through the encoder on its own (BatchNorm sees one domain at a time,
    as in RFMeta). Meta-train, per domain D_i at θ: ``w_c·L_cls + w_d·L_dep + w_p·L_parse``, and the
    classifier's inner step ``θ'_i = θ − α·∇_θ w_c·L_cls(D_i; θ)`` (second order with
    ``create_graph``); plus ``w_t·L_os`` on the meta-train domains' classifier features at θ, pooled
    (live faces of different domains pulled together). Meta-test, on the held-out rows only:
    depth and parsing once, and for every θ'_i the BCE **and the one-side triplet of the features
    computed with θ'_i**. Each row enters the loss once per role: meta-train rows never re-enter
    the meta-test terms. ``L = meta_train + w_mt·meta_test``.
    """
    domain = batch["domain"]
    theta = dict(model.classifier.named_parameters())
    buffers = dict(model.classifier.named_buffers())
    loss, weight = w.build(), w.losses

    def part(d_ids: list[int]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        rows = torch.isin(domain, torch.tensor(d_ids, device=domain.device))
        sub = {k: batch[k][rows] for k in ("image", "label", "domain", "depth", "parsing")}
        skips, multi = model.encoder(sub["image"])
        return sub, {"dx4": skips[3], "depth": model.depth_head(multi), "parsing": model.parsing_decoder(skips)}

    zero = batch["image"].new_zeros(())
    meta_train, cls_train, dep_train, adapted, train_feats, train_rows = zero, zero, zero, [], [], []
    for d in train_domains:
        sub, out = part([d])
        out["binary"], features = model.classifier(out["dx4"], with_features=True)
        cls = weight["bce"] * loss["bce"](out, sub)
        dep, par = loss["depth_mse"](out, sub), loss["segmentation_ce"](out, sub)
        meta_train = meta_train + cls + weight["depth_mse"] * dep + weight["segmentation_ce"] * par
        cls_train, dep_train = cls_train + cls, dep_train + dep
        # θ'_i; cloned BN buffers, so meta-test forwards do not move the running statistics (RFMeta clones them too)
        adapted.append(inner_step(theta, cls, w.step_size, create_graph=w.second_order) | {k: b.clone() for k, b in buffers.items()})
        train_feats.append(features)
        train_rows.append(sub)
    pooled = {k: torch.cat([r[k] for r in train_rows]) for k in ("label", "domain")}
    trip_train = loss["triplet"]({"embedding": torch.cat(train_feats)}, pooled)
    meta_train = meta_train + weight["triplet"] * trip_train

    sub, out = part(test_domains)
    dep_test, par_test = loss["depth_mse"](out, sub), loss["segmentation_ce"](out, sub)
    cls_test, trip_test = zero, zero
    for theta_i in adapted:
        logit, features = functional_call(model.classifier, theta_i, (out["dx4"],), {"with_features": True})
        cls_test = cls_test + weight["bce"] * loss["bce"]({"binary": logit}, sub)
        trip_test = trip_test + loss["triplet"]({"embedding": features}, sub)
    meta_test = cls_test + weight["depth_mse"] * dep_test + weight["segmentation_ce"] * par_test + weight["triplet"] * trip_test
    return {"loss": meta_train + w.meta_test * meta_test, "meta_train": meta_train, "meta_test": meta_test,
            "cls_train": cls_train, "depth_train": dep_train, "cls_test": cls_test, "depth_test": dep_test, "parsing_test": par_test,
            "triplet_train": trip_train, "triplet_test": trip_test}


@register_recipe
class OneSideTriplet(Recipe):
    name = "onesidetriplet"
    hparams = {"backbone_width": "float", "weight_init": "str", "parsing_classes": "int", "live_per_domain": "int",
               "spoof_per_domain": "int", "meta_train_domains": "int", "meta_step_size": "float", "second_order": "bool",
               "meta_test_weight": "float", "triplet_margin": "float", "mining": "str", "triplet_anchor": "str",
               "spoof_depth_target": "str", "spoof_parsing_target": "str", "score_from": "str"}

    def run(self, ctx: RecipeContext) -> RecipeResult:
        epochs = int(ctx.require("epochs"))
        net_options = {"width": float(ctx.get("backbone_width", 1.0)), "weight_init": str(ctx.get("weight_init", "xavier"))}
        input_size = int(ctx.get("input_size") or ctx.splits.train.image_size)
        if input_size % 8:
            raise RecipeError(f"onesidetriplet needs an input size divisible by 8 (three 2× max-pools to the depth map), not {input_size}")
        depth_size = input_size // 8  # dx4's size: RFMeta's 32×32 depth map at 256 px
        classes = len(ctx.splits.train.meta.get("parsing_classes") or range(int(ctx.get("parsing_classes", 7))))
        weights = EpisodeWeights(
            losses={key: ctx.loss_weight(key) for key in EPISODE_LOSSES}, meta_test=float(ctx.get("meta_test_weight", 1.0)),
            step_size=float(ctx.get("meta_step_size", 1e-3)), second_order=bool(ctx.get("second_order", True)),
            margin=float(ctx.get("triplet_margin", 0.1)), mining=str(ctx.get("mining", "batch_hard")),
            spoof_parsing=str(ctx.get("spoof_parsing_target", "background")))
        live, spoof = int(ctx.get("live_per_domain", 8)), int(ctx.get("spoof_per_domain", 8))
        score_from = str(ctx.get("score_from", "cls"))
        for key, value, allowed in (("spoof_parsing_target", weights.spoof_parsing, ("background", "as_given")),
                                    ("score_from", score_from, ("cls", "depth", "cls+depth")),
                                    ("spoof_depth_target", str(ctx.get("spoof_depth_target", "zeros")), ("zeros",)),
                                    ("triplet_anchor", str(ctx.get("triplet_anchor", "live")), ("live",))):
            if value not in allowed:
                raise RecipeError(f"{key} must be one of {', '.join(allowed)}, not {value!r}")
        if live != spoof:
            raise RecipeError(f"live_per_domain ({live}) and spoof_per_domain ({spoof}) must be equal: batches are class-balanced")

        seed_everything(ctx.seed * 1_000 + 1)
        model = DepthNetMultiTask(parsing_classes=classes, **net_options)
        model = init_network(ctx, model)
        spec = ctx.batch_spec(batch_size=live + spoof, balanced=True, depth_size=depth_size, parsing_size=input_size)
        episodes = DomainEpisodes(ctx, ctx.splits.train, spec, seed=ctx.seed * 1_000 + 1, steps_per_epoch=ctx.get("steps_per_epoch"))
        n_domains = len(episodes.domains)
        n_train = max(1, min(int(ctx.get("meta_train_domains", n_domains - 1)), n_domains - 1))
        n_test = n_domains - n_train

        def episode(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            order = torch.randperm(n_domains).tolist()  # re-drawn every episode (engine seeds it per epoch)
            return meta_episode(model, batch, train_domains=order[:n_train], test_domains=order[n_train:], w=weights)

        ctx.engine.fit("onesidetriplet", {"model": model}, make_optimizer(model.parameters(), ctx.hp), episodes, episode, epochs,
                       seed=ctx.seed * 1_000 + 1)

        dev, test = (self._score(ctx, model, data, score_from) for data in (ctx.splits.dev, ctx.splits.test))
        arms = {
            "method": ArmScores("method", f"DepthNet+UNet (width {net_options['width']:g}) with depth, parsing, BCE and one-side triplet, "
                                          f"meta episodes over {n_domains} source domains; score = {score_from}", dev, test),
            # encoder + classifier trunk (no depth/parsing heads, no episodes) + BCE, on as many images per step
            "baseline": run_baseline_arm(replace(ctx, hp=ctx.hp | {"batch_size": (live + spoof) * n_domains, "balanced": True}), "depthnet",
                                         options=net_options, what="DepthNet encoder + classifier"),
        }
        return RecipeResult(arms=arms, extra={"source_domains": episodes.domains, "meta_train_domains": n_train, "meta_test_domains": n_test,
                                   "second_order": weights.second_order, "score_from": score_from, "depth_size": depth_size},
                            notes=[f"Meta-learning: each step splits the {n_domains} source domains {', '.join(episodes.domains)} into "
                                   f"{n_train} meta-train + {n_test} meta-test."])

    @staticmethod
    def _score(ctx: RecipeContext, model: DepthNetMultiTask, data: SampleSet, score_from: str) -> np.ndarray:
        def score(batch: dict[str, torch.Tensor]) -> torch.Tensor:
            skips, multi = model.encoder(batch["image"])
            p_cls = torch.sigmoid(model.classifier(skips[3]).float())
            p_depth = model.depth_head(multi).float().clamp(0, 1).mean(dim=(1, 2, 3))  # ReLU output: clipped to the targets' [0, 1]
            if score_from == "cls":
                return p_cls
            if score_from == "depth":
                return p_depth
            if score_from == "cls+depth":
                return (p_cls + p_depth) / 2
            raise RecipeError(f"score_from must be cls, depth or cls+depth, not {score_from!r}")

        return ctx.engine.predict([model], score, ctx.engine.batches(data, ctx.eval_spec(), shuffle=False))
