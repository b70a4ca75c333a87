"""The composed and cdcn recipes train a few steps on the tiny set and score every dev/test row."""

from __future__ import annotations

import numpy as np
import pytest
from recipe_fixtures import make_context

from vaultlab.recipes.base import RecipeError, get_recipe

HP = {"input_size": 32, "batch_size": 8, "epochs": 1, "steps_per_epoch": 2, "balanced": True, "hflip": False, "optimizer": "adam",
      "lr": 1e-3, "weight_decay": 0.0, "depth_size": 8, "pixel_size": 2, "metric_dim": 16, "grl_lambda": 1.0, "backbone_width": 0.125,
      "theta": 0.7}


def _run(data, recipe: str, protocol: str, components: dict):
    ctx = make_context(data, protocol, HP, components)
    return ctx, get_recipe(recipe).run(ctx)


def _check_arms(ctx, result) -> None:
    assert set(result.arms) == {"method", "baseline"}
    for arm in result.arms.values():
        assert len(arm.dev) == len(ctx.splits.dev) and len(arm.test) == len(ctx.splits.test)
        assert np.all((arm.test >= 0) & (arm.test <= 1))
    assert not np.allclose(result.arms["method"].test, result.arms["baseline"].test)


def test_composed_ssdg_style_note_on_leave_one_domain_out(tiny_data):
    losses = {"bce": 1.0, "asymmetric_triplet": 1.0, "single_side_adversarial": 0.5}
    ctx, result = _run(tiny_data, "composed", "lodo:D2", {"backbone": "depthnet", "losses": losses})
    _check_arms(ctx, result)
    history = ctx.engine.stages["composed"].history[0]
    assert {"loss", *losses} <= set(history)
    assert history["loss"] == pytest.approx(sum(w * history[k] for k, w in losses.items()), rel=1e-5)
    assert "scored by the binary output" in result.arms["method"].description


def test_composed_without_a_binary_loss_scores_by_the_pixel_map(tiny_data):
    ctx, result = _run(tiny_data, "composed", "intra", {"backbone": "mobilenetv2", "losses": {"pixel_bce": 1.0, "segmentation_ce": 0.5}})
    _check_arms(ctx, result)
    assert "scored by the pixel output" in result.arms["method"].description


def test_cdcn_scores_by_its_own_depth_map(tiny_data):
    ctx, result = _run(tiny_data, "cdcn", "intra", {"backbone": "cdcn", "losses": {"depth_mse": 1.0, "contrastive_depth": 1.0}})
    _check_arms(ctx, result)
    assert "scored by the depth output" in result.arms["method"].description
    with pytest.raises(RecipeError, match="trains the CDCN network"):
        _run(tiny_data, "cdcn", "intra", {"backbone": "resnet18", "losses": {"depth_mse": 1.0}})


def test_a_loss_not_named_is_not_trained(tiny_data):
    ctx, result = _run(tiny_data, "composed", "intra", {"backbone": "cdcn", "losses": {"depth_mse": 1.0, "bce": 0.0}})
    assert "bce" not in ctx.engine.stages["composed"].history[0]
    assert "scored by the depth output" in result.arms["method"].description


def test_a_backbone_that_needs_larger_images_gets_them_and_the_result_says_so(tiny_data):
    ctx, result = _run(tiny_data, "composed", "intra", {"backbone": "alexnet", "losses": {"bce": 1.0}})
    assert any("resized from 32 to 64 px" in note for note in result.notes)
    # BCE alone is the Baseline itself: a second arm would differ only by its seed
    assert set(result.arms) == {"method"} and any("No Baseline arm" in note for note in result.notes)
