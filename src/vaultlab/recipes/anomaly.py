"""Pérez-Cabo, Jiménez-Cabello, Costa-Pazo, López-Sastre, "Deep Anomaly Detection for Generalized
Face Anti-Spoofing", CVPRW 2019 (papers.md §1, §5 "Paper 1").

Verified (abstract): generalised PAD recast as anomaly detection; deep metric learning with a
triplet focal loss as regulariser of a "metric-softmax" loss; a few-shot a-posteriori probability
estimate that needs no classifier trained on the features. DeepFAS [V]: ResNet-50, RGB.

Implemented:
- ``method``: backbone → linear (the registry's ``embedding`` head) → L2-normalised embedding.
  Class-balanced batches; anomaly triplets (anchors and positives bona fide, negatives attacks,
  batch-hard by default). ``L = L_MS(d_ap, d_an) + λ·L_TF(d_ap, d_an; σ, α)`` on one shared mining
  (``anomaly_loss``), weights from the card's losses; λ is small (chosen on dev, see the card) so
  that L_TF regularises L_MS instead of dominating it — its exponential kernel reaches e^{2/σ} ≈ e^{6.7}
  on hard triplets; every epoch logs ``tf_to_ms = λ·L_TF / L_MS``. Score = few-shot posterior
  ``P(bona fide | x) = Σ_g e^{−d(x,g)/τ} / (Σ_g e^{−d(x,g)/τ} + Σ_a e^{−d(x,a)/τ})`` over K bona fide
  and K attack reference embeddings drawn (seeded) from ``reference_source`` (dev by default); the
  references are recorded in ``RecipeResult.extra``. When they come from dev, every frame of every
  reference video leaves the dev split *for all arms* (``ctx.splits.dev`` is replaced before
  training, and the runner scores that reduced split), so the threshold never sees a reference.
- ``one-class``: the same embedding, score = 1 − ‖e(x) − c‖/2 with c the mean embedding of the
  training bona fide rows (the distance lies in [0, 2] since ‖e‖ = 1 and ‖c‖ ≤ 1).
- ``baseline``: the same backbone + BCE on the same training split.
Every unpinned choice is an assumption in ``methods/anomaly.yaml``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from vaultlab.data.sampleset import ATTACK, BONA_FIDE, SampleSet
from vaultlab.engine.core import seed_everything
from vaultlab.nn.backbones import build_backbone
from vaultlab.nn.composed import ComposedNet
from vaultlab.nn.losses import metric_softmax_loss, triplet_focal_loss
from vaultlab.nn.miners import anomaly_triplets
from vaultlab.recipes.base import ArmScores, Recipe, RecipeContext, RecipeError, RecipeResult, init_network, make_optimizer, register_recipe
from vaultlab.recipes.baseline import run_baseline_arm


def anomaly_loss(emb: torch.Tensor, label: torch.Tensor, *, mining: str, sigma: float, margin: float,
                 w_ms: float, w_tf: float) -> dict[str, torch.Tensor]:
    """w_ms·L_MS + w_tf·L_TF on the batch's anomaly triplets (bona fide anchors/positives, attack negatives).

    The formulas the registered ``metric_softmax`` and ``triplet_focal`` losses wrap, but on **one**
    mining shared by both terms: the registered pair would mine twice, which changes the gradient's
    rounding, and through Adam's first steps the quick profile's numbers by about one seed's spread."""
    d_ap, d_an = anomaly_triplets(emb, label, mode=mining)
    ms = metric_softmax_loss(d_ap, d_an)
    tf = triplet_focal_loss(d_ap, d_an, sigma=sigma, margin=margin)
    # how large the regulariser is next to the main term (logged every epoch; the card's λ keeps it < 1)
    tf_to_ms = (w_tf * tf / (w_ms * ms).clamp_min(1e-12)).detach()
    return {"loss": w_ms * ms + w_tf * tf, "metric_softmax": ms, "triplet_focal": tf, "tf_to_ms": tf_to_ms,
            "d_ap": d_ap.mean(), "d_an": d_an.mean()}


def few_shot_posterior(emb: torch.Tensor, bona_refs: torch.Tensor, attack_refs: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """P(bona fide | x) = Σ_g exp(−d(x,g)/τ) / (Σ_g exp(−d(x,g)/τ) + Σ_a exp(−d(x,a)/τ)), Euclidean d.

    Computed in log space (logsumexp) so small τ does not underflow.
    """
    log_g = torch.logsumexp(-torch.cdist(emb, bona_refs) / temperature, dim=1)
    log_a = torch.logsumexp(-torch.cdist(emb, attack_refs) / temperature, dim=1)
    return torch.sigmoid(log_g - log_a)


def one_class_score(emb: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    """1 − ‖e − c‖/2 ∈ [0, 1] for unit-norm e and ‖c‖ ≤ 1: closer to the bona fide centre = more bona fide."""
    return (1.0 - (emb - centre).norm(dim=1) / 2).clamp(0.0, 1.0)


def draw_references(data: SampleSet, k: int, seed: int) -> dict[int, np.ndarray]:
    """K bona fide and K attack row indices of ``data``, one frame per video where possible (seeded)."""
    rng = np.random.default_rng(seed)
    chosen = {}
    for cls in (BONA_FIDE, ATTACK):
        rows = np.flatnonzero(data.label == cls)
        if len(rows) == 0:
            raise RecipeError(f"the reference split has no {'bona fide' if cls == BONA_FIDE else 'attack'} rows for the few-shot posterior")
        rows = rows[rng.permutation(len(rows))]
        _, first = np.unique(data.video[rows], return_index=True)  # one frame of each video first …
        distinct = rows[np.sort(first)]
        rest = np.setdiff1d(rows, distinct, assume_unique=True)  # … then further frames only if K exceeds the videos
        chosen[cls] = np.concatenate([distinct, rest])[:k]
    return chosen


def without_videos(data: SampleSet, videos: np.ndarray) -> SampleSet:
    """``data`` minus every frame of ``videos`` (a reference's other frames are as close as itself)."""
    return data.select(~np.isin(data.video, videos))


@register_recipe
class Anomaly(Recipe):
    name = "anomaly"
    hparams = {"override_backbone": "str", "embedding_dim": "int", "distance": "str", "mining": "str", "tf_sigma": "float",
               "tf_margin": "float", "posterior_temperature": "float", "reference_k": "int", "reference_source": "str",
               "centre_max_rows": "int", "backbone_head": "str", "backbone_width": "float", "backbone_fc_dim": "int", "backbone_depth": "int"}

    def run(self, ctx: RecipeContext) -> RecipeResult:
        backbone = str(ctx.get("override_backbone") or ctx.components.get("backbone", "resnet50"))
        epochs = int(ctx.require("epochs"))
        w_ms, w_tf = ctx.loss_weight("metric_softmax"), ctx.loss_weight("triplet_focal")
        mining, sigma, margin = str(ctx.get("mining", "batch_hard")), float(ctx.get("tf_sigma", 0.3)), float(ctx.get("tf_margin", 0.2))
        tau, k = float(ctx.get("posterior_temperature", 1.0)), int(ctx.get("reference_k", 5))
        if str(ctx.get("distance", "euclidean")) != "euclidean":
            raise RecipeError(f"distance must be 'euclidean' (between L2-normalised embeddings), not {ctx.get('distance')!r}")

        # -- references first: they leave the threshold's data before anything is trained ----
        source = str(ctx.get("reference_source", "dev"))
        ref_data = {"dev": ctx.splits.dev, "train": ctx.splits.train}.get(source)
        if ref_data is None:
            raise RecipeError(f"reference_source must be 'dev' or 'train', not {source!r}")
        refs = draw_references(ref_data, k, ctx.seed * 1_000 + 2)
        ref_rows = ref_data.select(np.concatenate([refs[BONA_FIDE], refs[ATTACK]]))
        dev_before = len(ctx.splits.dev)
        if source == "dev":
            ctx.splits.dev = without_videos(ctx.splits.dev, ref_rows.video)

        # -- train the embedding ------------------------------------------------------------
        seed_everything(ctx.seed * 1_000 + 1)
        net = init_network(ctx, ComposedNet(build_backbone(backbone), ["embedding"], metric_dim=int(ctx.get("embedding_dim", 128))))
        # balanced batches: every batch holds anchors/positives and negatives [I]
        batches = ctx.engine.batches(ctx.splits.train, ctx.batch_spec(balanced=True), shuffle=True, seed=ctx.seed * 1_000 + 1,
                                     steps_per_epoch=ctx.get("steps_per_epoch"))

        def step(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            emb = F.normalize(net(batch["image"])["embedding"].float(), dim=1)
            return anomaly_loss(emb, batch["label"], mining=mining, sigma=sigma, margin=margin, w_ms=w_ms, w_tf=w_tf)

        ctx.engine.fit("anomaly", {"model": net}, make_optimizer(net.parameters(), ctx.hp), batches, step, epochs, seed=ctx.seed * 1_000 + 1)

        # -- score: few-shot posterior and one-class distance -------------------------------
        embed = lambda data: self._embed(ctx, net, data)  # noqa: E731
        ref_emb = embed(ref_rows)
        bona_refs, attack_refs = ref_emb[: len(refs[BONA_FIDE])], ref_emb[len(refs[BONA_FIDE]):]

        train_bona = np.flatnonzero(ctx.splits.train.label == BONA_FIDE)
        cap = int(ctx.get("centre_max_rows", 1024))
        if len(train_bona) > cap:  # the centre of a seeded subsample: embedding every training row costs minutes on CPU
            train_bona = np.sort(np.random.default_rng(ctx.seed * 1_000 + 3).choice(train_bona, cap, replace=False))
        centre = embed(ctx.splits.train.select(train_bona)).mean(0, keepdim=True)

        dev_emb, test_emb = embed(ctx.splits.dev), embed(ctx.splits.test)
        posterior = lambda e: few_shot_posterior(e, bona_refs, attack_refs, tau).numpy().astype(np.float64)  # noqa: E731
        one_class = lambda e: one_class_score(e, centre).numpy().astype(np.float64)  # noqa: E731

        arms = {
            "method": ArmScores("method", f"{backbone} embedding (L_MS + {w_tf:g}·L_TF), few-shot posterior from K={k} bona fide + "
                                          f"K={k} attack {source} references (τ={tau:g})", posterior(dev_emb), posterior(test_emb)),
            "one-class": ArmScores("one-class", f"same embedding, distance to the centre of {len(train_bona)} training bona fide embeddings",
                                   one_class(dev_emb), one_class(test_emb)),
            "baseline": run_baseline_arm(ctx, backbone),
        }
        notes = [f"Few-shot references: {k} bona fide + {k} attack frames from the {source} split (seed {ctx.seed}); "
                 "no classifier is trained on the embedding."]
        if source == "dev":
            notes.append(f"The reference videos left the dev split for every arm: the threshold is set on {len(ctx.splits.dev)} of "
                         f"{dev_before} dev frames, none of them a reference.")
        final = ctx.engine.stages["anomaly"].history[-1] if ctx.engine.stages["anomaly"].history else {}
        if "tf_to_ms" in final:
            notes.append(f"Loss balance in the last epoch: λ·L_TF / L_MS = {final['tf_to_ms']:.2f} (λ = {w_tf:g}, σ = {sigma:g}).")
        if backbone != ctx.components.get("backbone"):
            notes.append(f"Backbone {backbone} instead of the note's {ctx.components.get('backbone')} (profile {ctx.profile}).")
        extra = {"backbone": backbone, "reference_source": source, "reference_k": k,
                 "references": {name: {"rows": refs[cls].tolist(), "videos": ref_data.video[refs[cls]].tolist()}
                                for name, cls in (("bona_fide", BONA_FIDE), ("attack", ATTACK))},
                 "centre_rows": len(train_bona), "dev_rows_removed": dev_before - len(ctx.splits.dev),
                 "tf_to_ms_last_epoch": final.get("tf_to_ms")}
        return RecipeResult(arms=arms, notes=notes, extra=extra)

    @staticmethod
    def _embed(ctx: RecipeContext, net: ComposedNet, data: SampleSet) -> torch.Tensor:
        """[N, D] unit-norm embeddings of every row, in order (through the engine's scoring pass)."""
        batches = ctx.engine.batches(data, ctx.eval_spec(), shuffle=False)
        embed = lambda b: F.normalize(net(b["image"])["embedding"].float(), dim=1)  # noqa: E731
        return torch.from_numpy(ctx.engine.predict([net], embed, batches)).float()
