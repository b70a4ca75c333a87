from __future__ import annotations

import numpy as np
import pytest
import torch
from recipe_fixtures import epoch_losses, make_context
from torch import nn

from vaultlab.nn.depthnet import DepthNetMultiTask
from vaultlab.recipes.base import get_recipe
from vaultlab.recipes.onesidetriplet import EpisodeWeights, meta_episode

HP = {"input_size": 32, "live_per_domain": 4, "spoof_per_domain": 4, "epochs": 3, "steps_per_epoch": 4, "lr": 2e-3, "hflip": False,
      "backbone_width": 0.125, "meta_step_size": 1e-2}
COMPONENTS = {"backbone": "depthnet+unet", "losses": {"bce": 1.0, "triplet": 1.0, "depth_mse": 10.0, "segmentation_ce": 1.0}}  # the card's


def test_multitask_heads_have_the_promised_shapes():
    model = DepthNetMultiTask(width=0.125, parsing_classes=7)
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64))
    assert out["depth"].shape == (2, 1, 8, 8) and float(out["depth"].min()) >= 0  # input/8, like RFMeta's 32 at 256 px
    assert out["parsing"].shape == (2, 7, 64, 64)
    assert out["logit"].shape == (2,)


def test_network_follows_the_rfmeta_layer_plan():
    """papers.md §2.3 [V]: MaxPool2d(2) blocks, adaptive pooling to dx4's size, classifier on dx4 (128 ch),
    depth head ending in BN + ReLU, classifier conv 128/256/512 → fc 512 → 1."""
    model = DepthNetMultiTask(width=1.0, parsing_classes=7)
    pools = [m for m in model.encoder.modules() if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == 3 and all(p.kernel_size == 2 and p.stride == 2 and p.padding == 0 for p in pools)
    convs = [m for m in model.encoder.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 196, 128, 128, 196, 128, 128, 196, 128]
    head = list(model.depth_head.modules())
    assert isinstance(head[-1], nn.ReLU) and isinstance(head[-2], nn.BatchNorm2d) and head[-2].num_features == 1
    assert not any(isinstance(m, nn.Sigmoid) for m in model.modules())
    classifier_convs = [m for m in model.classifier.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in classifier_convs] == [(128, 128), (128, 256), (256, 512)]
    assert (model.classifier.fc.in_features, model.classifier.fc.out_features) == (512, 1)
    x = torch.randn(2, 3, 32, 32)
    model.eval()
    with torch.no_grad():
        skips, multi = model.encoder(x)
        assert multi.shape == (2, 384, 4, 4)
        torch.testing.assert_close(multi[:, :128], nn.functional.adaptive_avg_pool2d(skips[1], 4))
        torch.testing.assert_close(multi[:, 256:], skips[3])
        torch.testing.assert_close(model(x)["logit"], model.classifier(skips[3]))  # the classifier reads dx4 alone


def _episode_batch(seed: int = 0, per_domain: int = 4, size: int = 32) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    n = 3 * per_domain
    label = torch.tensor([1, 1, 0, 0] * (n // 4))
    depth = torch.rand(n, 1, size // 8, size // 8, generator=g)
    return {"image": torch.randn(n, 3, size, size, generator=g), "label": label, "domain": torch.arange(3).repeat_interleave(per_domain),
            "depth": depth, "parsing": torch.randint(0, 7, (n, size, size), generator=g)}


def _model() -> DepthNetMultiTask:
    torch.manual_seed(0)
    return DepthNetMultiTask(width=0.125, parsing_classes=7).train()


def test_meta_test_triplet_goes_through_the_adapted_classifier():
    batch = _episode_batch()
    losses = {}
    for alpha in (0.0, 0.5):
        model = _model()
        losses[alpha] = meta_episode(model, batch, [0, 1], [2], EpisodeWeights(step_size=alpha, margin=2.0))
    assert losses[0.0]["triplet_test"].item() > 0 and losses[0.0]["triplet_train"].item() == pytest.approx(losses[0.5]["triplet_train"].item())  # θ: unaffected by α
    assert losses[0.0]["triplet_test"].item() != pytest.approx(losses[0.5]["triplet_test"].item(), abs=1e-6)  # θ'_i = θ − α∇


def test_meta_train_rows_do_not_enter_the_meta_test_terms():
    batch = _episode_batch()
    changed = {k: v.clone() for k, v in batch.items()}
    changed["image"][batch["domain"] != 2] += 3.0  # move only the meta-train domains' images
    weights = EpisodeWeights(step_size=0.0)  # θ' = θ: the meta-train rows could reach meta-test only by entering it
    a = meta_episode(_model(), batch, [0, 1], [2], weights)
    b = meta_episode(_model(), changed, [0, 1], [2], weights)
    for key in ("cls_test", "triplet_test", "depth_test", "parsing_test"):
        assert a[key].item() == pytest.approx(b[key].item(), rel=1e-5), key
    assert a["meta_train"].item() != pytest.approx(b["meta_train"].item(), rel=1e-3)


def test_onesidetriplet_episodes_train_and_score(tiny_data):
    ctx = make_context(tiny_data, "lodo:D2", HP, COMPONENTS)
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

    ctx = make_context(tiny_data, "lodo:D2", HP | {"score_from": "logit"}, COMPONENTS)
    with pytest.raises(RecipeError, match="score_from"):
        get_recipe("onesidetriplet").run(ctx)
    assert "onesidetriplet" not in ctx.engine.stages  # refused before any training
