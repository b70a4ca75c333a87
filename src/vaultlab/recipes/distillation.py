"""Li, Wang, He, Rocha, "Face Anti-Spoofing With Deep Neural Network Distillation", IEEE J-STSP 2020.

Verified (abstract, papers.md §3.2): (1) a teacher network is trained on sufficient labelled data of a
rich source domain; (2) a network for the scarce target domain is trained on *cross-domain sample
pairs* with cross-entropy + maximum mean discrepancy of features + paired-sample similarity.

Implemented:
- Stage 1 ``teacher``: AlexNet + BCE on the protocol's source domain (``splits.extra["source"]``).
- Stage 2 ``student``: on k labelled target samples per class; each step pairs every target sample
  with one source sample of the same label and one of the other label (drawn at random):
  ``L = w_bce·BCE(student(x_t), y_t) + λ1·MMD²(φ_T(x_s), φ_S(x_t)) + λ2·L_pair(φ_T(x_s), φ_S(x_t), [y_s = y_t])``
  with φ the penultimate FC features (teacher frozen), a multi-bandwidth RBF MMD (bandwidths =
  multiples of the batch's median distance) and a contrastive pair loss on L2-normalised features.
- ``baseline``: the same student, same initialisation, trained with BCE on the target samples alone.
- ``teacher``: the source-only teacher scored on the target, as a third, reference arm.
The loss weights come from the card's ``components.losses``; every unpinned choice (λs, bandwidths,
pair rule, initialisation) is an assumption in ``methods/distillation.yaml``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vaultlab.engine.core import seed_everything
from vaultlab.nn.backbones import Classifier, build_backbone
from vaultlab.nn.losses import median_bandwidth, mmd_loss, paired_similarity_loss
from vaultlab.recipes.base import (
    ArmScores, Recipe, RecipeContext, RecipeError, RecipeResult, bce_step, dev_test_scores, make_optimizer,
    register_recipe, train_bce_classifier,
)
from vaultlab.recipes.baseline import backbone_options


def _student(ctx: RecipeContext, teacher: Classifier, backbone: str) -> Classifier:
    """The student network. Both arms (distilled and baseline) get the same initial weights, so they
    differ only in the loss: the teacher's (``student_init: teacher``) or one fresh seeded init."""
    seed_everything(ctx.seed * 1_000 + 3)
    student = Classifier(build_backbone(backbone, **backbone_options(ctx)))
    init = str(ctx.get("student_init", "teacher"))
    if init == "teacher":
        student.load_state_dict(teacher.state_dict())
    elif init != "scratch":
        raise RecipeError(f"student_init must be 'teacher' or 'scratch', not {init!r}")
    return ctx.engine.prepare(student)


@register_recipe
class Distillation(Recipe):
    name = "distillation"

    def run(self, ctx: RecipeContext) -> RecipeResult:
        source = ctx.splits.extra.get("source")
        if source is None:
            raise RecipeError(f"distillation needs a protocol with a source domain (adapt:<source>-><target>), not {ctx.splits.protocol!r}")
        backbone = str(ctx.components.get("backbone", "alexnet"))
        teacher, _ = train_bce_classifier(ctx, "teacher", source, backbone, epochs=int(ctx.require("teacher_epochs")),
                                          seed_offset=1, prefix="teacher_", backbone_options=backbone_options(ctx))
        teacher.eval()
        for p in teacher.parameters():
            p.requires_grad_(False)

        weights = dict(ctx.components.get("losses") or {"bce": 1.0, "mmd": 1.0, "paired_similarity": 1.0})
        w_bce, lam_mmd, lam_pair = (float(weights.get(k, 0.0)) for k in ("bce", "mmd", "paired_similarity"))
        epochs = int(ctx.require("student_epochs"))
        steps = ctx.get("student_steps_per_epoch")
        spec = ctx.batch_spec(balanced=True)
        multiples = ctx.get("mmd_bandwidths")
        margin = float(ctx.get("pair_margin", 1.0))

        # -- the distilled student ---------------------------------------------------------------
        student = _student(ctx, teacher, backbone)
        target_batches = ctx.engine.batches(ctx.splits.train, spec, shuffle=True, seed=ctx.seed * 1_000 + 4, steps_per_epoch=steps)
        source_stream = _endless(ctx.engine.batches(source, spec, shuffle=True, seed=ctx.seed * 1_000 + 5, steps_per_epoch=steps))
        pair_rng = torch.Generator().manual_seed(ctx.seed * 1_000 + 6)

        def distill_step(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            src = next(source_stream)
            same, other = _pair_each_target(batch["label"].cpu(), src["label"].cpu(), pair_rng)
            with torch.no_grad():
                f_s = teacher.features(src["image"]).float()
            f_t = student.features(batch["image"]).float()
            bce = F.binary_cross_entropy_with_logits(student.head(f_t).squeeze(1), batch["label"].float())
            bandwidths = None if multiples is None else [median_bandwidth(f_s, f_t) * float(m) for m in multiples]
            mmd = mmd_loss(f_s, f_t, bandwidths=bandwidths)
            e_s, e_t = F.normalize(f_s, dim=1), F.normalize(f_t, dim=1)
            n = len(e_t)
            idx = torch.cat([same, other]).to(e_s.device)
            is_same = torch.cat([torch.ones(n), torch.zeros(n)]).to(e_s.device)
            pair = paired_similarity_loss(e_s[idx], torch.cat([e_t, e_t]), is_same, margin=margin)
            return {"loss": w_bce * bce + lam_mmd * mmd + lam_pair * pair, "bce": bce, "mmd": mmd, "pair": pair}

        optimizer = make_optimizer(student.parameters(), ctx.hp, "student_")
        ctx.engine.fit("student", {"model": student}, optimizer, target_batches, distill_step, epochs, seed=ctx.seed * 1_000 + 4)

        # -- the baseline: same student, same init, BCE on the scarce target data alone --------------
        baseline = _student(ctx, teacher, backbone)
        optimizer = make_optimizer(baseline.parameters(), ctx.hp, "student_")
        baseline_batches = ctx.engine.batches(ctx.splits.train, spec, shuffle=True, seed=ctx.seed * 1_000 + 4, steps_per_epoch=steps)
        ctx.engine.fit("baseline", {"model": baseline}, optimizer, baseline_batches, bce_step(baseline), epochs, seed=ctx.seed * 1_000 + 4)

        n_target = len(ctx.splits.train)
        arms = {}
        for name, model, text in (
            ("method", student, f"distilled student ({w_bce:g}·BCE + {lam_mmd:g}·MMD + {lam_pair:g}·pair) on {n_target} target samples"),
            ("baseline", baseline, f"same student, BCE on the {n_target} target samples alone"),
            ("teacher", teacher, f"teacher ({backbone}, source only, {len(source)} images), no adaptation"),
        ):
            dev, test = dev_test_scores(ctx, model)
            arms[name] = ArmScores(name, text, dev, test)
        return RecipeResult(arms=arms, extra={"target_train_rows": n_target, "source_rows": len(source)})


def _pair_each_target(y_t: torch.Tensor, y_s: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """For each target sample, the index of a random source sample with the same label and of one with
    the other label (the source batch is balanced, so both classes are present)."""
    by_label = {int(c): torch.nonzero(y_s == c).flatten() for c in (0, 1)}

    def draw(labels: torch.Tensor) -> torch.Tensor:
        picks = torch.empty_like(labels)
        for c, rows in by_label.items():
            mask = labels == c
            picks[mask] = rows[torch.randint(len(rows), (int(mask.sum()),), generator=gen)]
        return picks

    return draw(y_t), draw(1 - y_t)


def _endless(batches):
    epoch = 0
    while True:
        yield from batches.epoch(epoch)
        epoch += 1
