from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from recipe_fixtures import epoch_losses, make_context

from torch import nn

from vaultlab.data.sampleset import ATTACK, BONA_FIDE
from vaultlab.nn.backbones import register_backbone
from vaultlab.recipes.anomaly import draw_references, few_shot_posterior, one_class_score

HP = {"input_size": 32, "batch_size": 12, "epochs": 3, "steps_per_epoch": 5, "lr": 1e-3, "hflip": False,
      "override_backbone": "tiny_cnn", "embedding_dim": 16, "reference_k": 3, "posterior_temperature": 0.5}


@register_backbone("tiny_cnn")
def tiny_cnn() -> nn.Module:
    """A few-thousand-parameter stand-in for ResNet so the end-to-end test stays fast on a shared CPU."""
    net = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.BatchNorm2d(32),
                        nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    net.out_features = 32
    return net


def test_few_shot_posterior_matches_a_hand_computation():
    emb = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    bona = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    attack = torch.tensor([[0.0, 1.0], [-1.0, 0.0]])
    tau = 0.5

    def hand(e):
        g = sum(math.exp(-math.dist(e, r) / tau) for r in bona.tolist())
        a = sum(math.exp(-math.dist(e, r) / tau) for r in attack.tolist())
        return g / (g + a)

    got = few_shot_posterior(emb, bona, attack, tau)
    np.testing.assert_allclose(got.numpy(), [hand(e) for e in emb.tolist()], rtol=1e-5)
    assert got[0] > 0.5 > got[1]


def test_one_class_score_is_one_at_the_centre_and_zero_opposite():
    centre = torch.tensor([[1.0, 0.0]])
    np.testing.assert_allclose(one_class_score(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]), centre).numpy(), [1.0, 0.0])


def test_references_are_k_per_class_seeded_and_distinct_videos(tiny_data):
    dev = tiny_data.select(tiny_data.split == "dev")
    refs = draw_references(dev, 4, seed=3)
    assert (dev.label[refs[BONA_FIDE]] == BONA_FIDE).all() and (dev.label[refs[ATTACK]] == ATTACK).all()
    assert len(set(dev.video[refs[BONA_FIDE]])) == 4
    again = draw_references(dev, 4, seed=3)
    assert all((refs[c] == again[c]).all() for c in refs)


def test_anomaly_run_trains_and_scores(tiny_data):
    ctx = make_context(tiny_data, "unseen-attack:replay", HP, {"backbone": "resnet50", "losses": {"metric_softmax": 1.0, "triplet_focal": 1.0}})
    result = ctx_run("anomaly", ctx)
    losses = epoch_losses(ctx, "anomaly")
    assert losses[-1] < 0.7 * losses[0], losses
    assert set(result.arms) == {"method", "one-class", "baseline"}
    for arm in result.arms.values():
        assert len(arm.dev) == len(ctx.splits.dev) and len(arm.test) == len(ctx.splits.test)
        assert np.all((arm.dev >= 0) & (arm.dev <= 1)) and np.all((arm.test >= 0) & (arm.test <= 1))
    refs = result.extra["references"]
    assert len(refs["bona_fide"]["rows"]) == 3 and len(refs["attack"]["videos"]) == 3
    assert result.extra["backbone"] == "tiny_cnn"
    # the references left the rows the dev threshold sees, for every arm (the runner scores ctx.splits.dev)
    reference_videos = set(refs["bona_fide"]["videos"]) | set(refs["attack"]["videos"])
    assert not reference_videos & set(ctx.splits.dev.video.tolist())
    assert result.extra["dev_rows_removed"] == 6  # one frame per video in the tiny set
    assert all("tf_to_ms" in entry for entry in ctx.engine.stages["anomaly"].history)


def test_anomaly_loss_logs_the_size_of_the_regulariser_next_to_the_main_term():
    """λ·L_TF / L_MS is what tells whether the triplet focal term regularises (< 1) or dominates (σ = 0.3 lets
    e^{d/σ} reach e^{6.7}); the recipe logs it every epoch and the card's λ was chosen with it."""
    from vaultlab.nn.losses import metric_softmax_loss, triplet_focal_loss
    from vaultlab.nn.miners import anomaly_triplets
    from vaultlab.recipes.anomaly import anomaly_loss

    torch.manual_seed(0)
    emb, label = torch.randn(32, 128), torch.tensor([1, 0] * 16)
    d_ap, d_an = anomaly_triplets(emb, label, mode="batch_hard")
    ms, tf = float(metric_softmax_loss(d_ap, d_an)), float(triplet_focal_loss(d_ap, d_an, 0.3, 0.2))
    assert tf > 50 * ms  # random unit embeddings: the exponential kernel dwarfs the softmax term
    for lam in (1.0, 0.1):
        out = anomaly_loss(emb, label, mining="batch_hard", sigma=0.3, margin=0.2, w_ms=1.0, w_tf=lam)
        assert float(out["tf_to_ms"]) == pytest.approx(lam * tf / ms, rel=1e-5)
        assert float(out["loss"]) == pytest.approx(ms + lam * tf, rel=1e-5)


def ctx_run(name, ctx):
    from vaultlab.recipes.base import get_recipe

    return get_recipe(name).run(ctx)
