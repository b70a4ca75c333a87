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

Schedules are counted in optimiser steps (``*_epochs × *_steps_per_epoch``, both required): the
target set holds 2k rows, so an "epoch" over it would be a single batch.

Feature mode: φ_T and φ_S are both taken with dropout off — the teacher in eval mode, the student's
FC stack run a second time with its dropout disabled on the same convolutional output (AlexNet has no
BatchNorm, so this is exactly its eval-mode feature). The student's BCE uses its training-mode
forward (dropout on), as ordinary training does. Noisy student features against clean teacher
features would make MMD and the pair loss measure dropout noise.

The loss weights come from the card's ``components.losses``; every unpinned choice (λs, bandwidths,
pair rule, initialisation) is an assumption in ``methods/distillation.yaml``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from vaultlab.engine.core import seed_everything
from vaultlab.nn.backbones import AlexNetFeatures, Classifier, build_backbone
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
    backbones = "any"  # the student and teacher are any registered backbone + a BCE head
    hparams = {"teacher_epochs": "int", "teacher_steps_per_epoch": "int", "student_epochs": "int", "student_steps_per_epoch": "int",
               "teacher_lr": "float", "student_lr": "float", "teacher_weight_decay": "float", "student_weight_decay": "float",
               "teacher_optimizer": "str", "student_optimizer": "str", "student_init": "str", "mmd_bandwidths": "list",
               "pair_margin": "float", "backbone_head": "str", "backbone_width": "float", "backbone_fc_dim": "int", "backbone_depth": "int"}

    def run(self, ctx: RecipeContext) -> RecipeResult:
        source = ctx.splits.extra.get("source")
        if source is None:
            raise RecipeError(f"distillation needs a protocol with a source domain (adapt:<source>-><target>), not {ctx.splits.protocol!r}")
        backbone = str(ctx.components.get("backbone", "alexnet"))
        teacher_epochs, teacher_steps = step_schedule(ctx, "teacher")
        student_epochs, student_steps = step_schedule(ctx, "student")
        teacher, _ = train_bce_classifier(ctx, "teacher", source, backbone, epochs=teacher_epochs,
                                          seed_offset=1, prefix="teacher_", backbone_options=backbone_options(ctx))
        teacher.eval()
        for p in teacher.parameters():
            p.requires_grad_(False)

        weights = dict(ctx.components.get("losses") or {"bce": 1.0, "mmd": 1.0, "paired_similarity": 1.0})
        w_bce, lam_mmd, lam_pair = (float(weights.get(k, 0.0)) for k in ("bce", "mmd", "paired_similarity"))
        spec = ctx.batch_spec(balanced=True)
        multiples = ctx.get("mmd_bandwidths")
        margin = float(ctx.get("pair_margin", 1.0))

        # -- the distilled student ---------------------------------------------------------------
        student = _student(ctx, teacher, backbone)
        target_batches = ctx.engine.batches(ctx.splits.train, spec, shuffle=True, seed=ctx.seed * 1_000 + 4, steps_per_epoch=student_steps)
        source_stream = _endless(ctx.engine.batches(source, spec, shuffle=True, seed=ctx.seed * 1_000 + 5, steps_per_epoch=student_steps))
        pair_rng = torch.Generator().manual_seed(ctx.seed * 1_000 + 6)

        def distill_step(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            src = next(source_stream)
            same, other = _pair_each_target(batch["label"].cpu(), src["label"].cpu(), pair_rng)
            with torch.no_grad():
                f_s = teacher.features(src["image"]).float()  # eval mode: dropout off
            logit, f_t = student_outputs(student, batch["image"])  # f_t with dropout off, like f_s
            f_t = f_t.float()
            bce = F.binary_cross_entropy_with_logits(logit.float(), batch["label"].float())
            bandwidths = None if multiples is None else [median_bandwidth(f_s, f_t) * float(m) for m in multiples]
            mmd = mmd_loss(f_s, f_t, bandwidths=bandwidths)
            e_s, e_t = F.normalize(f_s, dim=1), F.normalize(f_t, dim=1)
            n = len(e_t)
            idx = torch.cat([same, other]).to(e_s.device)
            is_same = torch.cat([torch.ones(n), torch.zeros(n)]).to(e_s.device)
            pair = paired_similarity_loss(e_s[idx], torch.cat([e_t, e_t]), is_same, margin=margin)
            return {"loss": w_bce * bce + lam_mmd * mmd + lam_pair * pair, "bce": bce, "mmd": mmd, "pair": pair}

        optimizer = make_optimizer(student.parameters(), ctx.hp, "student_")
        ctx.engine.fit("student", {"model": student}, optimizer, target_batches, distill_step, student_epochs, seed=ctx.seed * 1_000 + 4)

        # -- the baseline: same student, same init, BCE on the scarce target data alone --------------
        baseline = _student(ctx, teacher, backbone)
        optimizer = make_optimizer(baseline.parameters(), ctx.hp, "student_")
        baseline_batches = ctx.engine.batches(ctx.splits.train, spec, shuffle=True, seed=ctx.seed * 1_000 + 4, steps_per_epoch=student_steps)
        ctx.engine.fit("baseline", {"model": baseline}, optimizer, baseline_batches, bce_step(baseline), student_epochs, seed=ctx.seed * 1_000 + 4)

        n_target = len(ctx.splits.train)
        arms = {}
        for name, model, text in (
            ("method", student, f"distilled student ({w_bce:g}·BCE + {lam_mmd:g}·MMD + {lam_pair:g}·pair) on {n_target} target samples"),
            ("baseline", baseline, f"same student, BCE on the {n_target} target samples alone"),
            ("teacher", teacher, f"teacher ({backbone}, source only, {len(source)} images), no adaptation"),
        ):
            dev, test = dev_test_scores(ctx, model)
            arms[name] = ArmScores(name, text, dev, test)
        extra = {"target_train_rows": n_target, "source_rows": len(source), "teacher_optimizer_steps": teacher_epochs * teacher_steps,
                 "student_optimizer_steps": student_epochs * student_steps}
        notes = [f"Schedules in optimiser steps: teacher {teacher_epochs * teacher_steps}, student and baseline "
                 f"{student_epochs * student_steps} each (on {n_target} target images).",
                 "MMD and pair features: teacher and student both with dropout off (teacher in eval mode); the student's BCE "
                 "uses its training-mode forward."]
        return RecipeResult(arms=arms, notes=notes, extra=extra)


def step_schedule(ctx: RecipeContext, stage: str) -> tuple[int, int]:
    """(epochs, steps per epoch) of a stage, both required: the schedule is counted in optimiser steps.

    An epoch over the 2k target rows would be one batch (the ``paper`` profile once trained the
    student for 30 steps in all), so no stage falls back to "one pass over its data".
    """
    epochs, steps = ctx.get(f"{stage}_epochs"), ctx.get(f"{stage}_steps_per_epoch")
    if epochs is None or steps is None:
        raise RecipeError(f"distillation counts its {stage} schedule in optimiser steps: the profile {ctx.profile!r} must set "
                          f"{stage}_epochs and {stage}_steps_per_epoch (total = their product)")
    if int(epochs) < 1 or int(steps) < 1:
        raise RecipeError(f"{stage}_epochs and {stage}_steps_per_epoch must be ≥ 1, not {epochs} and {steps}")
    return int(epochs), int(steps)


def student_outputs(student: Classifier, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(logit with dropout as in training, penultimate features with dropout off), one conv pass.

    The features feed MMD and the pair loss against the teacher's eval-mode features, so both
    networks are compared in the same mode; the logit feeds the BCE, trained with dropout as usual.
    """
    backbone = student.backbone
    if not any(isinstance(m, nn.Dropout) for m in backbone.modules()):
        features = backbone(images)
        return student.head(features).squeeze(1), features
    if isinstance(backbone, AlexNetFeatures):  # dropout lives only in the FC stack: share the conv trunk
        trunk = backbone.pool(backbone.features(images))
        train_features = backbone.fc(trunk)
        with dropout_off(backbone.fc):
            features = backbone.fc(trunk)
    else:
        train_features = backbone(images)
        with dropout_off(backbone):
            features = backbone(images)
    return student.head(train_features).squeeze(1), features


@contextmanager
def dropout_off(module: nn.Module) -> Iterator[None]:
    """Every Dropout of ``module`` in eval mode for the block (other layers untouched), then restored."""
    dropouts = [m for m in module.modules() if isinstance(m, nn.Dropout)]
    modes = [m.training for m in dropouts]
    for m in dropouts:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(dropouts, modes):
            m.train(mode)


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
