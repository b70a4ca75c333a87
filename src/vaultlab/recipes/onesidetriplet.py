"""Chuang, Wang, Lai, "Generalized Face Anti-Spoofing via Multi-Task Learning and One-Side Meta
Triplet Loss", FG 2023, arXiv 2211.15955 (papers.md §2, §5 "Paper 2").

Verified (abstract): three tasks — depth estimation, face parsing, live/spoof classification;
meta-learning simulates domain shift; a one-side triplet loss improves generalisation. Notes [V-3p]:
DepthNet+UNet; CE, triplet, depth and segmentation losses.

Implemented (the RFMeta template, papers.md §2.3 [V for RFMeta's code, R/I for this paper]):
- ``DepthNetMultiTask``: shared DepthNet encoder; depth head (MSE against pseudo-depth, zeros for
  attacks); UNet parsing decoder (pixel CE; attacks get the assumption's target); classifier (BCE).
- Each step is one episode over one class-balanced batch per source domain. The domains are
  shuffled into meta-train and meta-test. For each meta-train domain the classifier (the
  meta-learner) takes one functional inner SGD step on its BCE,
  ``θ'_i = θ − α·∇_θ L_cls(D_i; θ)`` with ``create_graph=True`` (second order). Meta-test scores the
  held-out domain(s) with every θ'_i.
  ``L = Σ_i [w_c·L_cls(D_i; θ) + w_d·L_dep + w_p·L_parse] + w_t·L_os(meta-train domains)
      + w_mt·(Σ_i w_c·L_cls(D_test; θ'_i) + w_d·L_dep + w_p·L_parse + w_t·L_os(all domains))``
  with the weights w_c, w_d, w_p, w_t of ``components["losses"]`` (bce, depth_mse, segmentation_ce,
  triplet).
  and the engine takes one optimiser step on all modules.
- ``baseline``: the same encoder + classifier trunk (``depthnet`` backbone) with BCE alone, no meta
  episodes, on the same training split.
Every unpinned choice is an assumption in ``methods/onesidetriplet.yaml``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call

from vaultlab.data.sampleset import SampleSet
from vaultlab.engine.core import seed_everything
from vaultlab.nn.depthnet import DepthNetMultiTask
from vaultlab.nn.losses import depth_loss, one_side_triplet_loss
from vaultlab.recipes.base import (
    ArmScores, Recipe, RecipeContext, RecipeError, RecipeResult, dev_test_scores, init_network, make_optimizer, register_recipe,
    train_bce_classifier,
)


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


def task_losses(out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], mask: torch.Tensor,
                spoof_parsing: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Depth MSE and parsing CE of the rows in ``mask`` (their targets made explicit for attacks)."""
    live = batch["label"][mask].float()
    depth_target = batch["depth"][mask] * live.view(-1, 1, 1, 1)  # zeros for attacks (AIM_FAS / RFMeta convention [V])
    parsing_target = batch["parsing"][mask]
    if spoof_parsing == "background":
        parsing_target = parsing_target * live.view(-1, 1, 1).long()
    return depth_loss(out["depth"][mask].float(), depth_target), F.cross_entropy(out["parsing"][mask].float(), parsing_target)


@register_recipe
class OneSideTriplet(Recipe):
    name = "onesidetriplet"

    def run(self, ctx: RecipeContext) -> RecipeResult:
        epochs = int(ctx.require("epochs"))
        net_options = {"width": float(ctx.get("backbone_width", 1.0)), "depth_size": int(ctx.get("depth_size", 32)),
                       "fc_dim": int(ctx.get("backbone_fc_dim", 512)), "weight_init": str(ctx.get("weight_init", "xavier"))}
        depth_size = net_options["depth_size"]
        input_size = int(ctx.get("input_size") or ctx.splits.train.image_size)
        classes = len(ctx.splits.train.meta.get("parsing_classes") or range(int(ctx.get("parsing_classes", 7))))
        losses = ctx.components.get("losses") or {}
        w_cls, w_depth = float(losses.get("bce", 1.0)), float(losses.get("depth_mse", 10.0))
        w_parse, w_trip = float(losses.get("segmentation_ce", 1.0)), float(losses.get("triplet", 1.0))
        w_meta_test = float(ctx.get("meta_test_weight", 1.0))
        alpha, second_order = float(ctx.get("meta_step_size", 1e-3)), bool(ctx.get("second_order", True))
        margin, mining = float(ctx.get("triplet_margin", 0.1)), str(ctx.get("mining", "batch_hard"))
        spoof_parsing = str(ctx.get("spoof_parsing_target", "background"))
        live, spoof = int(ctx.get("live_per_domain", 8)), int(ctx.get("spoof_per_domain", 8))
        score_from = str(ctx.get("score_from", "cls"))
        for key, value, allowed in (("spoof_parsing_target", spoof_parsing, ("background", "as_given")),
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
            skips, multi = model.encoder(batch["image"])
            out = {"depth": model.depth_head(multi), "parsing": model.parsing_decoder(skips)}
            features = multi.mean(dim=(2, 3))
            label, domain = batch["label"], batch["domain"]
            order = torch.randperm(n_domains).tolist()  # re-drawn every episode (engine seeds it per epoch)
            test_domains, train_domains = order[:n_test], order[n_test:]
            test_mask = torch.isin(domain, torch.tensor(test_domains, device=domain.device))
            theta = dict(model.classifier.named_parameters())

            def cls_loss(params, mask):
                logit = functional_call(model.classifier, params, (multi[mask],)).squeeze(1)
                return w_cls * F.binary_cross_entropy_with_logits(logit.float(), label[mask].float())

            # meta-train: per domain, the task losses at θ and one inner step on the classifier
            meta_train, adapted = 0.0, []
            for d in train_domains:
                mask = domain == d
                cls = cls_loss(theta, mask)
                dep, par = task_losses(out, batch, mask, spoof_parsing)
                meta_train = meta_train + cls + w_depth * dep + w_parse * par
                adapted.append(inner_step(theta, cls, alpha, create_graph=second_order))
            trip_train = one_side_triplet_loss(features[~test_mask].float(), label[~test_mask], domain[~test_mask], margin=margin, mining=mining)
            meta_train = meta_train + w_trip * trip_train

            # meta-test: the held-out domain(s) through every adapted classifier θ'_i
            cls_test = sum(cls_loss(theta_i, test_mask) for theta_i in adapted)
            dep_test, par_test = task_losses(out, batch, test_mask, spoof_parsing)
            trip_all = one_side_triplet_loss(features.float(), label, domain, margin=margin, mining=mining)
            meta_test = cls_test + w_depth * dep_test + w_parse * par_test + w_trip * trip_all

            return {"loss": meta_train + w_meta_test * meta_test, "meta_train": meta_train, "meta_test": meta_test,
                    "cls_test": cls_test, "depth_test": dep_test, "parsing_test": par_test, "triplet": trip_all}

        ctx.engine.fit("onesidetriplet", {"model": model}, make_optimizer(model.parameters(), ctx.hp), episodes, episode, epochs,
                       seed=ctx.seed * 1_000 + 1)

        dev, test = (self._score(ctx, model, data, score_from) for data in (ctx.splits.dev, ctx.splits.test))
        arms = {
            "method": ArmScores("method", f"DepthNet+UNet (width {net_options['width']:g}) with depth, parsing, BCE and one-side triplet, "
                                          f"meta episodes over {n_domains} source domains; score = {score_from}", dev, test),
            "baseline": self._baseline(ctx, net_options, batch_size=(live + spoof) * n_domains),
        }
        return RecipeResult(arms=arms, extra={"source_domains": episodes.domains, "meta_train_domains": n_train, "meta_test_domains": n_test,
                                   "second_order": second_order, "score_from": score_from},
                            notes=[f"Meta-learning: each step splits the {n_domains} source domains {', '.join(episodes.domains)} into "
                                   f"{n_train} meta-train + {n_test} meta-test."])

    @staticmethod
    def _baseline(ctx: RecipeContext, net_options: dict, batch_size: int) -> ArmScores:
        """Encoder + classifier trunk (no depth/parsing heads, no episodes) + BCE; same images per step."""
        plain = replace(ctx, hp=ctx.hp | {"batch_size": batch_size, "balanced": True})
        model, _ = train_bce_classifier(plain, "baseline", ctx.splits.train, "depthnet", epochs=int(ctx.require("epochs")),
                                        seed_offset=7, backbone_options=net_options)
        dev, test = dev_test_scores(plain, model)
        return ArmScores("baseline", f"DepthNet encoder + classifier, BCE only, on {ctx.splits.protocol} training data", dev, test)

    @staticmethod
    def _score(ctx: RecipeContext, model: DepthNetMultiTask, data: SampleSet, score_from: str) -> np.ndarray:
        def score(batch: dict[str, torch.Tensor]) -> torch.Tensor:
            _, multi = model.encoder(batch["image"])
            p_cls = torch.sigmoid(model.classifier(multi).squeeze(1).float())
            p_depth = model.depth_head(multi).float().mean(dim=(1, 2, 3))
            if score_from == "cls":
                return p_cls
            if score_from == "depth":
                return p_depth
            if score_from == "cls+depth":
                return (p_cls + p_depth) / 2
            raise RecipeError(f"score_from must be cls, depth or cls+depth, not {score_from!r}")

        return ctx.engine.predict([model], score, ctx.engine.batches(data, ctx.eval_spec(), shuffle=False))
