"""Zhang, Sun, Wu, Luo, "Advanced Face Anti-Spoofing with Depth Segmentation", IJCNN 2022
(papers.md §4, §5 "Paper 4").

Verified: only the DeepFAS table entry — depth supervision, PSPNet and DeepLabv3+ backbones, RGB,
static. Everything below is the title's reading [I]: pseudo-depth estimation cast as semantic
segmentation with off-the-shelf segmentation networks.

Implemented:
- ``method``: smp ``PSPNet`` or ``DeepLabV3Plus`` (``components["variant"]``) on a ResNet encoder.
  ``depthseg_target: quantised`` (default): per-pixel CE over K+1 classes — background 0 and K depth
  levels, level = ⌈K·d⌉ for face pixels (d > 0) of bona fide faces; every pixel of an attack is
  background (planar: zero depth). ``depthseg_target: regression``: one sigmoid channel, MSE on d.
  Supervision and score live on a ``depth_size`` map (the net's logits average-pooled down to it).
  Score = expected depth over the face region: (Σ_k k·p_k)/K per pixel (or the regressed d),
  averaged over ``score_region`` — ``train_mask`` (default: the pixels that are face in at least
  half of the training bona fide depth maps, a fixed region like CDCN's binary-map normaliser),
  ``crop`` (every pixel) or ``predicted`` (pixels whose P(background) < 0.5; an empty region
  scores 0).
- ``baseline``: the segmentation net's encoder alone (``smp_encoder``) + BCE on the same training split.
  No variant changes it, so it is trained once per seed and shared by the variants' runs (``SharedArms``).
Every unpinned choice is an assumption in ``methods/depthseg.yaml``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from vaultlab import registry
from vaultlab.data.sampleset import BONA_FIDE, SampleSet
from vaultlab.engine.core import seed_everything
from vaultlab.nn.segmentation import SEGMENTATION_VARIANTS, build_segmentation_net, load_encoder_weights
from vaultlab.recipes.base import ArmScores, Recipe, RecipeContext, RecipeError, RecipeResult, init_network, make_optimizer, register_recipe
from vaultlab.recipes.baseline import run_baseline_arm

TARGETS = ("quantised", "regression")
REGIONS = ("train_mask", "crop", "predicted")


def quantise_depth(depth: torch.Tensor, label: torch.Tensor, levels: int) -> torch.Tensor:
    """[B,1,H,W] depth in [0,1] + [B] labels → [B,H,W] class ids: 0 background, 1..K depth levels.

    Bona fide face pixels (d > 0) get ⌈K·d⌉ clamped to [1, K]; background pixels and every pixel of
    an attack (a planar presentation, whatever its stored depth) get 0.
    """
    d = depth[:, 0]
    live = (label == BONA_FIDE).view(-1, 1, 1)
    level = torch.ceil(d * levels).clamp(1, levels).long()
    return torch.where(live & (d > 0), level, torch.zeros_like(level))


def expected_depth(logits: torch.Tensor) -> torch.Tensor:
    """[B,K+1,H,W] class logits → [B,H,W] expected depth Σ_k k·p_k / K ∈ [0, 1] (background counts 0)."""
    levels = logits.shape[1] - 1
    p = logits.float().softmax(dim=1)
    k = torch.arange(levels + 1, device=logits.device, dtype=p.dtype).view(1, -1, 1, 1)
    return (p * k).sum(1) / levels


def region_mean(value: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """Mean of [B,H,W] ``value`` over a [H,W] or [B,H,W] boolean region; 0 where the region is empty."""
    region = region.expand_as(value).to(value.dtype)
    return (value * region).sum((1, 2)) / region.sum((1, 2)).clamp_min(1.0) * (region.sum((1, 2)) > 0)


def face_mask_from_training(data: SampleSet, size: int, share: float = 0.5) -> torch.Tensor:
    """[size,size] pixels that are face (depth > 0) in at least ``share`` of the bona fide depth maps."""
    depth = None if data.depth is None else data.depth[data.label == BONA_FIDE]
    if depth is None or len(depth) == 0:
        raise RecipeError("depthseg's score_region=train_mask needs bona fide depth maps in the training split")
    face = torch.from_numpy((depth > 0).astype(np.float32)).unsqueeze(1)
    face = F.interpolate(face, size=(size, size), mode="area").mean(0)[0]
    mask = face >= share
    return mask if mask.any() else torch.ones_like(mask)


@register_recipe
class DepthSeg(Recipe):
    name = "depthseg"
    hparams = {"encoder": "str", "depthseg_target": "str", "score_region": "str", "encoder_weights": "str",
               "spoof_depth_target": "str", "depth_levels": "int", "depth_size": "int", "decoder_channels": "int",
               "output_stride": "int", "atrous_rates": "list", "deeplab_encoder_depth": "int",
               "face_mask_share": "float"}

    def run(self, ctx: RecipeContext) -> RecipeResult:
        variant = str(ctx.components.get("variant") or ctx.components.get("backbone") or "")
        if variant not in SEGMENTATION_VARIANTS:
            raise RecipeError(f"depthseg variant must be one of {', '.join(SEGMENTATION_VARIANTS)}, not {variant!r}")
        encoder = str(ctx.get("encoder", "resnet18"))
        target = str(ctx.get("depthseg_target", "quantised"))
        region = str(ctx.get("score_region", "train_mask"))
        if target not in TARGETS or region not in REGIONS:
            raise RecipeError(f"depthseg_target must be one of {TARGETS} and score_region one of {REGIONS}; got {target!r}, {region!r}")
        for key, allowed in (("encoder_weights", ("none",)), ("spoof_depth_target", ("zeros",))):
            if str(ctx.get(key, allowed[0])).lower() not in allowed:
                raise RecipeError(f"{key} must be {' or '.join(allowed)} (local weights go in through --pretrained), not {ctx.get(key)!r}")
        levels = int(ctx.get("depth_levels", 8))
        input_size = int(ctx.get("input_size") or ctx.splits.train.image_size)
        map_size = int(ctx.get("depth_size") or input_size)  # supervision and scoring resolution
        stages = ctx.get("deeplab_encoder_depth")  # DeepLabV3+'s encoder stages; None: smp's 5
        if stages is not None and int(stages) not in (3, 4, 5):
            raise RecipeError(f"deeplab_encoder_depth must be 3, 4 or 5 (smp's encoder stages), not {stages!r}")
        if variant == "deeplabv3plus" and input_size % 16:
            raise RecipeError(f"DeepLabV3+ needs an input size divisible by 16 (output stride 16), not {input_size}")

        seed_everything(ctx.seed * 1_000 + 1)
        net = build_segmentation_net(variant, encoder, classes=levels + 1 if target == "quantised" else 1,
                                     decoder_channels=ctx.get("decoder_channels"), output_stride=ctx.get("output_stride"),
                                     atrous_rates=ctx.get("atrous_rates"), deeplab_encoder_depth=stages)
        net = init_network(ctx, net, load=load_encoder_weights)
        spec = ctx.batch_spec(balanced=bool(ctx.get("balanced", False)), depth_size=map_size)
        batches = ctx.engine.batches(ctx.splits.train, spec, shuffle=True, seed=ctx.seed * 1_000 + 1, steps_per_epoch=ctx.get("steps_per_epoch"))

        def predict_map(images: torch.Tensor) -> torch.Tensor:
            out = net(images).float()
            # the net predicts at input resolution; average its logits down to the depth map's size [I]
            return out if out.shape[-1] == map_size else F.adaptive_avg_pool2d(out, map_size)

        depth_mse = registry.create("loss", "depth_mse")  # regression: MSE to pseudo-depth, zeros for attacks

        def step(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            out = predict_map(batch["image"])
            if target == "quantised":
                return {"loss": F.cross_entropy(out, quantise_depth(batch["depth"], batch["label"], levels))}
            return {"loss": depth_mse({"depth": torch.sigmoid(out)}, batch)}

        ctx.engine.fit(f"depthseg-{variant}", {"model": net}, make_optimizer(net.parameters(), ctx.hp), batches, step,
                       int(ctx.require("epochs")), seed=ctx.seed * 1_000 + 1)

        fixed = None
        if region == "train_mask":
            fixed = face_mask_from_training(ctx.splits.train, map_size, float(ctx.get("face_mask_share", 0.5))).to(ctx.engine.device)
        elif region == "crop":
            fixed = torch.ones(map_size, map_size, dtype=torch.bool, device=ctx.engine.device)

        def score(batch: dict[str, torch.Tensor]) -> torch.Tensor:
            out = predict_map(batch["image"])
            depth = expected_depth(out) if target == "quantised" else torch.sigmoid(out[:, 0])
            if fixed is not None:
                return region_mean(depth, fixed)
            face = out.softmax(1)[:, 0] < 0.5 if target == "quantised" else depth > 0.5 / levels
            return region_mean(depth, face)

        dev, test = (ctx.engine.predict([net], score, ctx.engine.batches(data, ctx.eval_spec(), shuffle=False))
                     for data in (ctx.splits.dev, ctx.splits.test))
        what = f"{levels} depth levels + background, pixel CE" if target == "quantised" else "depth regression, MSE"
        arms = {
            "method": ArmScores("method", f"{variant}({encoder}), {what}; score = expected depth over the {region} region", dev, test),
            # the segmentation net's own encoder (smp, same weights layout) + global pool + BCE, same schedule
            "baseline": ctx.shared_arm("baseline", lambda: run_baseline_arm(ctx, "smp_encoder", options={"encoder": encoder},
                                                                            what=f"{encoder} encoder")),
        }
        notes = []
        if ctx.shared is not None and "baseline" in ctx.shared.reused:
            notes.append(f"The baseline arm does not depend on the variant: it was trained and scored once for seed {ctx.seed}, "
                         "by another variant's run, and its scores were read back here.")
        extra = {"variant": variant, "encoder": encoder, "target": target, "depth_levels": levels, "depth_size": map_size, "score_region": region}
        if fixed is not None:
            extra["score_region_pixels"] = int(fixed.sum())
        return RecipeResult(arms=arms, notes=notes, extra=extra)
