"""The registered losses: one signature, what each reads, and the forms that differ from a plain library call."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vaultlab import registry
from vaultlab.nn.heads import reverse_gradient
from vaultlab.nn.losses import one_side_triplet_loss


def _batch(n: int = 12, seed: int = 0) -> tuple[dict, dict]:
    g = torch.Generator().manual_seed(seed)
    label = torch.tensor([1, 0] * (n // 2))
    domain = torch.arange(n) % 3
    outputs = {"binary": torch.randn(n, generator=g, requires_grad=True), "depth": torch.rand(n, 1, 8, 8, generator=g, requires_grad=True),
               "pixel": torch.randn(n, 1, 4, 4, generator=g, requires_grad=True), "parsing": torch.randn(n, 7, 8, 8, generator=g, requires_grad=True),
               "embedding": torch.randn(n, 16, generator=g, requires_grad=True), "domain": torch.randn(n, 3, generator=g, requires_grad=True)}
    batch = {"label": label, "domain": domain, "depth": torch.rand(n, 1, 8, 8, generator=g),
             "parsing": torch.randint(0, 7, (n, 8, 8), generator=g)}
    return outputs, batch


@pytest.mark.parametrize("name", registry.names("loss"))
def test_every_loss_is_a_finite_scalar_with_gradients_to_the_heads_it_declares(name):
    outputs, batch = _batch()
    value = registry.create("loss", name)(outputs, batch)
    assert value.dim() == 0 and torch.isfinite(value)
    value.backward()
    for head in registry.entry("loss", name).meta["heads"]:
        assert outputs[head].grad is not None, f"{name} does not reach {head}"


def test_bce_and_pixel_bce():
    outputs, batch = _batch()
    assert torch.allclose(registry.create("loss", "bce")(outputs, batch),
                          F.binary_cross_entropy_with_logits(outputs["binary"], batch["label"].float()))
    uniform = {"pixel": outputs["binary"].detach().view(-1, 1, 1, 1).expand(-1, 1, 4, 4)}
    assert torch.allclose(registry.create("loss", "pixel_bce")(uniform, batch), F.binary_cross_entropy_with_logits(outputs["binary"], batch["label"].float()))


def test_focal_is_bce_scaled_by_the_modulating_factor():
    outputs, batch = _batch()
    logits, target = outputs["binary"].detach(), batch["label"].float()
    p_t = torch.where(target == 1, torch.sigmoid(logits), 1 - torch.sigmoid(logits))
    expected = (F.binary_cross_entropy_with_logits(logits, target, reduction="none") * (1 - p_t) ** 2).mean()
    assert torch.allclose(registry.create("loss", "focal")({"binary": logits}, batch), expected)
    plain = registry.create("loss", "focal", gamma=0.0)({"binary": logits}, batch)
    assert torch.allclose(plain, F.binary_cross_entropy_with_logits(logits, target))  # γ = 0 is BCE


def test_depth_losses_target_zero_depth_for_attacks():
    outputs, batch = _batch()
    attack = batch["label"] == 0
    target = batch["depth"].clone()
    target[attack] = 0
    perfect = {"depth": target}
    assert float(registry.create("loss", "depth_mse")(perfect, batch)) == 0.0
    assert float(registry.create("loss", "contrastive_depth")(perfect, batch)) == 0.0
    assert float(registry.create("loss", "depth_mse")({"depth": batch["depth"]}, batch)) > 0  # attacks' maps must be flat


def test_single_side_adversarial_ignores_attacks():
    outputs, batch = _batch()
    loss = registry.create("loss", "single_side_adversarial")
    moved = {**outputs, "domain": outputs["domain"].detach().clone()}
    moved["domain"][batch["label"] == 0, 0] += 10.0  # change only the attacks' discriminator outputs
    assert torch.allclose(loss(outputs, batch), loss(moved, batch))
    live = batch["label"] == 1
    assert torch.allclose(loss(outputs, batch), F.cross_entropy(outputs["domain"][live], batch["domain"][live]))
    full = registry.create("loss", "adversarial")
    assert not torch.allclose(full(outputs, batch), full(moved, batch))


def test_gradient_reversal_flips_the_sign():
    x = torch.ones(3, requires_grad=True)
    reverse_gradient(x, 0.5).sum().backward()
    assert torch.equal(x.grad, torch.full((3,), -0.5))


def test_asymmetric_triplet_is_a_triplet_over_live_and_per_domain_attack_classes():
    from pytorch_metric_learning import losses

    outputs, batch = _batch()
    classes = torch.where(batch["label"] == 1, 0, batch["domain"] + 1)
    expected = losses.TripletMarginLoss(margin=0.1)(outputs["embedding"], classes)
    assert torch.allclose(registry.create("loss", "asymmetric_triplet")(outputs, batch), expected)


def test_one_side_triplet_is_the_paper_recipes_function():
    outputs, batch = _batch()
    expected = one_side_triplet_loss(outputs["embedding"], batch["label"], batch["domain"], margin=0.1)
    assert torch.allclose(registry.create("loss", "one_side_triplet")(outputs, batch), expected)


def test_domain_losses_are_zero_on_one_domain():
    outputs, batch = _batch()
    batch["domain"] = torch.zeros_like(batch["domain"])
    for name in ("mmd", "paired_similarity"):
        assert float(registry.create("loss", name)(outputs, batch).detach()) == 0.0


def test_mmd_grows_when_one_domain_shifts():
    outputs, batch = _batch()
    loss = registry.create("loss", "mmd")
    shifted = {"embedding": outputs["embedding"].detach() + 3.0 * (batch["domain"] == 0).float()[:, None]}
    assert float(loss(shifted, batch)) > float(loss({"embedding": outputs["embedding"].detach()}, batch))


def test_composed_net_builds_the_heads_its_losses_read():
    from vaultlab.nn.backbones import build_backbone
    from vaultlab.nn.composed import ComposedNet, heads_for

    heads = heads_for(["bce", "depth_mse", "contrastive_depth", "supcon", "adversarial"])
    assert heads == ["binary", "depth", "embedding", "domain"]
    net = ComposedNet(build_backbone("resnet18"), heads, depth_size=8, metric_dim=16, domains=3).eval()
    with torch.no_grad():
        out = net(torch.randn(2, 3, 32, 32))
    assert out["binary"].shape == (2,) and out["depth"].shape == (2, 1, 8, 8) and bool(((out["depth"] >= 0) & (out["depth"] <= 1)).all())
    assert out["embedding"].shape == (2, 16) and out["domain"].shape == (2, 3)


def test_the_options_paper_recipes_set_on_registered_losses():
    """onesidetriplet keeps an attack's parsing map on request and mines its one-side triplets batch-hard."""
    outputs, batch = _batch()
    attack = batch["label"] == 0
    as_given = registry.create("loss", "segmentation_ce", attacks="as_given")(outputs, batch)
    torch.testing.assert_close(as_given, F.cross_entropy(outputs["parsing"], batch["parsing"]))
    background = registry.create("loss", "segmentation_ce")(outputs, batch)
    torch.testing.assert_close(background, F.cross_entropy(outputs["parsing"], batch["parsing"] * ~attack.view(-1, 1, 1)))
    with pytest.raises(ValueError, match="as_given"):
        registry.create("loss", "segmentation_ce", attacks="face")
    emb, label, domain = outputs["embedding"], batch["label"], batch["domain"]
    hard = registry.create("loss", "one_side_triplet", margin=0.5, mining="batch_hard")(outputs, batch)
    torch.testing.assert_close(hard, one_side_triplet_loss(emb, label, domain, margin=0.5, mining="batch_hard"))
    assert hard.item() != pytest.approx(one_side_triplet_loss(emb, label, domain, margin=0.5).item())  # the default mines all triplets
