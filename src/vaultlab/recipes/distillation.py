"""Li, Wang, He, Rocha, "Face Anti-Spoofing With Deep Neural Network Distillation", IEEE J-STSP 2020.

Verified (abstract, papers.md §3.2): (1) a teacher network is trained on sufficient labelled data of a
rich source domain; (2) a network for the scarce target domain is trained on *cross-domain sample
pairs* with cross-entropy + maximum mean discrepancy of features + paired-sample similarity.

Implemented:
- Stage 1 ``teacher``: AlexNet + BCE on the protocol's source domain (``splits.extra["source"]``).
- Stage 2 ``student``: on k labelled target samples per class, each step pairs a balanced target batch
  with a balanced source batch (pair order shuffled so about half the pairs share a label):
  ``L = BCE(student(x_t), y_t) + λ1·MMD²(φ_T(x_s), φ_S(x_t)) + λ2·L_pair(φ_T(x_s), φ_S(x_t), [y_s = y_t])``
  with φ the FC features (teacher frozen), a multi-bandwidth RBF MMD and a contrastive pair loss on
  L2-normalised features.
- ``baseline``: the same student, same initialisation, trained with BCE on the target samples alone.
Every unpinned choice (λs, bandwidths, pair rule, student size, initialisation) is an assumption in
``methods/distillation.yaml``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from vaultlab.engine.core import seed_everything
from vaultlab.nn.backbones import Classifier, build_backbone
from vaultlab.nn.losses import mmd_loss, paired_similarity_loss
from vaultlab.recipes.base import (
    ArmScores, Recipe, RecipeContext, RecipeError, RecipeResult, bce_step, dev_test_scores, make_optimizer,
    register_recipe, train_bce_classifier,
)


def _student(ctx: RecipeContext, feature_dim: int) -> Classifier:
    # Same seed for the distilled student and its baseline: the two arms differ only in the loss.
    seed_everything(ctx.seed * 1_000 + 3)
    backbone = build_backbone(str(ctx.get("student_backbone", ctx.components.get("backbone", "alexnet"))),
                              head=ctx.get("student_head", "slim"), width=float(ctx.get("student_width", 0.5)), fc_dim=feature_dim)
    return ctx.engine.prepare(Classifier(backbone))


@register_recipe
class Distillation(Recipe):
    name = "distillation"

    def run(self, ctx: RecipeContext) -> RecipeResult:
        source = ctx.splits.extra.get("source")
        if source is None:
            raise RecipeError(f"distillation needs a protocol with a source domain (adapt:<source>-><target>), not {ctx.splits.protocol!r}")
        backbone = str(ctx.components.get("backbone", "alexnet"))
        teacher, _ = train_bce_classifier(
            ctx, "teacher", source, backbone, epochs=int(ctx.require("teacher_epochs")), seed_offset=1, prefix="teacher_",
            backbone_options={"head": ctx.get("teacher_head", "stock"), "fc_dim": ctx.get("feature_dim", 512)})
        teacher.eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
        feature_dim = teacher.backbone.out_features

        epochs = int(ctx.require("student_epochs"))
        steps = int(ctx.get("student_steps_per_epoch", 25))
        target_spec = ctx.batch_spec(batch_size=int(ctx.get("student_batch_size", 32)), balanced=True)

        # -- the distilled student ---------------------------------------------------------------
        student = _student(ctx, feature_dim)
        target_batches = ctx.engine.batches(ctx.splits.train, target_spec, shuffle=True, seed=ctx.seed * 1_000 + 4, steps_per_epoch=steps)
        source_batches = ctx.engine.batches(source, target_spec, shuffle=True, seed=ctx.seed * 1_000 + 5, steps_per_epoch=steps)
        pair_rng = np.random.default_rng(ctx.seed * 1_000 + 6)
        lam_mmd, lam_pair = float(ctx.require("lambda_mmd")), float(ctx.require("lambda_pair"))
        bandwidths = ctx.get("mmd_bandwidths")
        margin = float(ctx.get("pair_margin", 1.0))
        source_stream = _endless(source_batches)

        def distill_step(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            src = next(source_stream)
            order = torch.from_numpy(pair_rng.permutation(len(src["label"])))
            x_s, y_s = src["image"][order.to(src["image"].device)], src["label"][order.to(src["label"].device)]
            with torch.no_grad():
                f_s = teacher.features(x_s).float()
            f_t = student.features(batch["image"]).float()
            logits = student.head(f_t).squeeze(1)
            bce = F.binary_cross_entropy_with_logits(logits, batch["label"].float())
            mmd = mmd_loss(f_s, f_t, bandwidths=bandwidths)
            pair = paired_similarity_loss(F.normalize(f_s, dim=1), F.normalize(f_t, dim=1), (y_s == batch["label"]).float(), margin=margin)
            return {"loss": bce + lam_mmd * mmd + lam_pair * pair, "bce": bce, "mmd": mmd, "pair": pair}

        optimizer = make_optimizer(student.parameters(), ctx.hp, "student_")
        ctx.engine.fit("student", {"model": student}, optimizer, target_batches, distill_step, epochs, seed=ctx.seed * 1_000 + 4)

        # -- the baseline: same student, same init, BCE on the scarce target data alone --------------
        baseline = _student(ctx, feature_dim)
        optimizer = make_optimizer(baseline.parameters(), ctx.hp, "student_")
        baseline_batches = ctx.engine.batches(ctx.splits.train, target_spec, shuffle=True, seed=ctx.seed * 1_000 + 4, steps_per_epoch=steps)
        ctx.engine.fit("baseline", {"model": baseline}, optimizer, baseline_batches, bce_step(baseline), epochs, seed=ctx.seed * 1_000 + 4)

        n_target = len(ctx.splits.train)
        arms = {}
        for name, model, text in (
            ("method", student, f"distilled student (BCE + {lam_mmd:g}·MMD + {lam_pair:g}·pair) on {n_target} target samples"),
            ("baseline", baseline, f"same student, BCE on the {n_target} target samples alone"),
            ("teacher", teacher, f"teacher ({backbone}, source only, {len(source)} images), no adaptation"),
        ):
            dev, test = dev_test_scores(ctx, model)
            arms[name] = ArmScores(name, text, dev, test)
        return RecipeResult(arms=arms, extra={"target_train_rows": n_target, "source_rows": len(source)})


def _endless(batches):
    epoch = 0
    while True:
        yield from batches.epoch(epoch)
        epoch += 1
