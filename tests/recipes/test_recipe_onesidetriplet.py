from __future__ import annotations

import numpy as np
import pytest
import torch
from recipe_fixtures import epoch_losses, make_context

from vaultlab.nn.depthnet import DepthNetMultiTask
from vaultlab.recipes.base import get_recipe

HP = {"input_size": 32, "live_per_domain": 4, "spoof_per_domain": 4, "epochs": 3, "steps_per_epoch": 4, "lr": 2e-3, "hflip": False,
      "backbone_width": 0.125, "backbone_fc_dim": 32, "depth_size": 16, "meta_step_size": 1e-2}


def test_multitask_heads_have_the_promised_shapes():
    model = DepthNetMultiTask(width=0.125, depth_size=32, parsing_classes=7, fc_dim=16)
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64))
    assert out["depth"].shape == (2, 1, 32, 32) and float(out["depth"].min()) >= 0 and float(out["depth"].max()) <= 1
    assert out["parsing"].shape == (2, 7, 64, 64)
    assert out["logit"].shape == (2,)


def test_onesidetriplet_episodes_train_and_score(tiny_data):
    ctx = make_context(tiny_data, "lodo:D2", HP, {"backbone": "depthnet+unet"})
    result = get_recipe("onesidetriplet").run(ctx)
    losses = epoch_losses(ctx, "onesidetriplet")
    assert losses[-1] < 0.8 * losses[0], losses
    assert result.extra["source_domains"] == ["D0", "D1"]
    assert set(result.arms) == {"method", "baseline"}
    for arm in result.arms.values():
        assert len(arm.dev) == len(ctx.splits.dev) and len(arm.test) == len(ctx.splits.test)
        assert np.all((arm.dev >= 0) & (arm.dev <= 1)) and np.all((arm.test >= 0) & (arm.test <= 1))


def test_unknown_score_from_is_refused_before_training(tiny_data):
    from vaultlab.recipes.base import RecipeError

    ctx = make_context(tiny_data, "lodo:D2", HP | {"score_from": "logit"}, {"backbone": "depthnet+unet"})
    with pytest.raises(RecipeError, match="score_from"):
        get_recipe("onesidetriplet").run(ctx)
    assert "onesidetriplet" not in ctx.engine.stages  # refused before any training
