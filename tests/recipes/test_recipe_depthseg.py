from __future__ import annotations

import numpy as np
import pytest
import torch
from recipe_fixtures import epoch_losses, make_context

from vaultlab.recipes.base import get_recipe
from vaultlab.recipes.depthseg import expected_depth, quantise_depth, region_mean

HP = {"input_size": 32, "batch_size": 8, "epochs": 3, "steps_per_epoch": 4, "lr": 5e-3, "hflip": False, "encoder": "mobilenet_v2",
      "depth_levels": 4, "decoder_channels": 32, "depth_size": 16}


def test_quantisation_gives_background_for_attacks_and_levels_for_live_faces():
    depth = torch.tensor([[0.0, 0.1, 0.5], [0.76, 1.0, 0.25]]).view(1, 1, 2, 3).repeat(2, 1, 1, 1)
    label = torch.tensor([1, 0])
    q = quantise_depth(depth, label, levels=4)
    assert q[0].tolist() == [[0, 1, 2], [4, 4, 1]]
    assert q[1].abs().sum() == 0  # the attack: background everywhere, whatever its stored depth


def test_expected_depth_and_region_mean():
    logits = torch.full((1, 3, 1, 2), -1e4)
    logits[0, 2, 0, 0] = 0  # pixel 0 certainly level 2 of 2 → 1.0
    logits[0, 0, 0, 1] = 0  # pixel 1 certainly background → 0
    d = expected_depth(logits)
    torch.testing.assert_close(d, torch.tensor([[[1.0, 0.0]]]))
    assert float(region_mean(d, torch.tensor([[True, False]]))) == 1.0
    assert float(region_mean(d, torch.zeros(1, 1, 2, dtype=torch.bool))) == 0.0  # empty region scores 0


@pytest.mark.parametrize("variant,target", [("pspnet", "quantised"), ("deeplabv3plus", "regression")])
def test_depthseg_trains_and_scores(tiny_data, variant, target):
    ctx = make_context(tiny_data, "intra", HP | {"depthseg_target": target}, {"backbone": variant, "variant": variant})
    result = get_recipe("depthseg").run(ctx)
    losses = epoch_losses(ctx, f"depthseg-{variant}")
    assert losses[-1] < 0.8 * losses[0], losses
    for arm in result.arms.values():
        assert len(arm.dev) == len(ctx.splits.dev) and len(arm.test) == len(ctx.splits.test)
        assert np.all((arm.dev >= 0) & (arm.dev <= 1)) and np.all((arm.test >= 0) & (arm.test <= 1))
    assert result.extra["score_region_pixels"] > 0


def test_the_baseline_is_trained_once_per_seed_and_shared_by_the_variants(tiny_data, tmp_path):
    from vaultlab.recipes.base import SharedArms

    hp = HP | {"epochs": 1, "decoder_channels": 16}
    results, contexts = [], []
    for variant in ("pspnet", "deeplabv3plus", "pspnet"):
        ctx = make_context(tiny_data, "intra", hp, {"backbone": variant, "variant": variant})
        ctx.shared = SharedArms(tmp_path, "key", fresh_since=0.0 if len(results) < 2 else float("inf"))  # the third: --force
        results.append(get_recipe("depthseg").run(ctx))
        contexts.append(ctx)
    first, second, forced = results
    assert contexts[0].shared.reused == [] and contexts[1].shared.reused == ["baseline"] and contexts[2].shared.reused == []
    for split in ("dev", "test"):
        assert np.array_equal(getattr(first.arms["baseline"], split), getattr(second.arms["baseline"], split))
        assert np.array_equal(getattr(first.arms["baseline"], split), getattr(forced.arms["baseline"], split))  # trained again, same numbers
    assert not np.array_equal(first.arms["method"].dev, second.arms["method"].dev)
    assert second.arms["baseline"].description == first.arms["baseline"].description
    reused = contexts[1].engine.stages["baseline"]
    assert reused.history == contexts[0].engine.stages["baseline"].history and reused.seconds == 0.0
    assert any("trained and scored once for seed 0" in n for n in second.notes) and not first.notes


def test_a_deeplab_encoder_depth_smp_cannot_build_is_refused_before_training(tiny_data):
    from vaultlab.recipes.base import RecipeError

    ctx = make_context(tiny_data, "intra", HP | {"deeplab_encoder_depth": 6}, {"backbone": "deeplabv3plus", "variant": "deeplabv3plus"})
    with pytest.raises(RecipeError, match="deeplab_encoder_depth must be 3, 4 or 5"):
        get_recipe("depthseg").run(ctx)
    assert not ctx.engine.stages  # nothing trained
