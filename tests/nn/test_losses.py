"""Each loss against a slow reference written with explicit Python loops, values and gradients (float64)."""

import math
import statistics

import pytest
import torch

from vaultlab.nn.losses import (
    contrastive_depth_loss,
    depth_loss,
    median_bandwidth,
    metric_softmax_loss,
    mmd_loss,
    one_side_triplet_loss,
    paired_similarity_loss,
    reduce_loss,
    triplet_focal_loss,
)
from vaultlab.nn.miners import anomaly_triplets


@pytest.fixture(autouse=True)
def _float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def batch(seed=0, n_bona=5, n_attack=6, dim=8):
    g = torch.Generator().manual_seed(seed)
    emb = torch.randn(n_bona + n_attack, dim, generator=g, dtype=torch.float64)
    perm = torch.randperm(n_bona + n_attack, generator=g)
    label = torch.tensor([1] * n_bona + [0] * n_attack)[perm]
    domain = torch.randint(0, 3, (n_bona + n_attack,), generator=g)
    return emb.requires_grad_(True), label, domain


# -- slow references --------------------------------------------------------------------------


def ref_normalise(row):
    return row / torch.sqrt(sum(v * v for v in row))


def ref_dist(u, v, squared=False):
    s = sum((a - b) ** 2 for a, b in zip(u, v))
    return s if squared else torch.sqrt(s)


def ref_triplets(emb, label, mode, squared=False, domain=None):
    """Every (a, p, n) by loops; batch_hard keeps each anchor's max d_ap and min d_an."""
    f = [ref_normalise(emb[i]) for i in range(len(emb))]
    bona = [i for i in range(len(emb)) if int(label[i]) == 1]
    attacks = [i for i in range(len(emb)) if int(label[i]) == 0]
    d_ap, d_an = [], []
    for a in bona:
        positives = [p for p in bona if p != a and (domain is None or int(domain[p]) != int(domain[a]))]
        if not positives or not attacks:
            continue
        if mode == "batch_hard":
            d_ap.append(max((ref_dist(f[a], f[p], squared) for p in positives), key=lambda t: t.item()))
            d_an.append(min((ref_dist(f[a], f[n], squared) for n in attacks), key=lambda t: t.item()))
        else:
            for p in positives:
                for n in attacks:
                    d_ap.append(ref_dist(f[a], f[p], squared))
                    d_an.append(ref_dist(f[a], f[n], squared))
    return torch.stack(d_ap), torch.stack(d_an)


def assert_same_value_and_grad(loss, ref, wrt):
    g, = torch.autograd.grad(loss, wrt, retain_graph=True)
    g_ref, = torch.autograd.grad(ref, wrt, retain_graph=True)
    torch.testing.assert_close(loss, ref, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(g, g_ref, rtol=1e-7, atol=1e-10)
    assert g.abs().sum() > 0  # the comparison is not between two zeros


# -- miners -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["batch_hard", "all"])
@pytest.mark.parametrize("squared", [False, True])
def test_anomaly_triplets_match_loops(mode, squared):
    emb, label, _ = batch(1)
    d_ap, d_an = anomaly_triplets(emb, label, mode=mode, squared=squared)
    r_ap, r_an = ref_triplets(emb, label, mode, squared)
    assert len(d_ap) == (5 if mode == "batch_hard" else 5 * 4 * 6)
    torch.testing.assert_close(d_ap, r_ap)
    torch.testing.assert_close(d_an, r_an)


def test_anomaly_triplets_cross_domain_positives():
    emb, label, domain = batch(2, n_bona=6)
    for mode in ("batch_hard", "all"):
        d_ap, d_an = anomaly_triplets(emb, label, mode=mode, domain=domain)
        r_ap, r_an = ref_triplets(emb, label, mode, domain=domain)
        torch.testing.assert_close(d_ap, r_ap)
        torch.testing.assert_close(d_an, r_an)


def test_anomaly_triplets_empty_batches():
    emb = torch.randn(4, 3)
    for label in (torch.tensor([1, 1, 1, 1]), torch.tensor([1, 0, 0, 0]), torch.tensor([0, 0, 0, 0])):
        for mode in ("batch_hard", "all"):
            d_ap, d_an = anomaly_triplets(emb, label, mode=mode)
            assert d_ap.numel() == 0 and d_an.numel() == 0
    assert metric_softmax_loss(*anomaly_triplets(emb, torch.tensor([1, 0, 0, 0]))) == 0


# -- triplet losses ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["batch_hard", "all"])
def test_metric_softmax_matches_loops(mode):
    emb, label, _ = batch(3)
    loss = metric_softmax_loss(*anomaly_triplets(emb, label, mode=mode))
    r_ap, r_an = ref_triplets(emb, label, mode)
    ref = sum(torch.log(1 + torch.exp(a - n)) for a, n in zip(r_ap, r_an)) / len(r_ap)
    assert_same_value_and_grad(loss, ref, emb)


@pytest.mark.parametrize("mode", ["batch_hard", "all"])
def test_triplet_focal_matches_loops(mode):
    emb, label, _ = batch(4)
    sigma, margin = 0.3, 0.2
    loss = triplet_focal_loss(*anomaly_triplets(emb, label, mode=mode), sigma=sigma, margin=margin)
    r_ap, r_an = ref_triplets(emb, label, mode)
    terms = [torch.exp(a / sigma) - torch.exp(n / sigma) + margin for a, n in zip(r_ap, r_an)]
    ref = sum(t if t > 0 else 0 * t for t in terms) / len(terms)
    assert any(t > 0 for t in terms)
    assert_same_value_and_grad(loss, ref, emb)


def test_triplet_focal_by_hand():
    # exp(0.3/0.3) − exp(0.6/0.3) + 0.2 = e − e² + 0.2 < 0 → 0;  exp(0.6/0.3) − exp(0.3/0.3) + 0.2 = e² − e + 0.2
    loss = triplet_focal_loss(torch.tensor([0.3, 0.6]), torch.tensor([0.6, 0.3]), reduction="none")
    torch.testing.assert_close(loss, torch.tensor([0.0, math.e**2 - math.e + 0.2]))
    torch.testing.assert_close(metric_softmax_loss(torch.tensor([1.0]), torch.tensor([1.0])), torch.tensor(math.log(2)))


def ref_one_side(emb, label, margin, mode, domain=None):
    r_ap, r_an = ref_triplets(emb, label, mode, domain=domain)
    terms = [a - n + margin for a, n in zip(r_ap, r_an)]
    if mode == "batch_hard":
        return sum(t if t > 0 else 0 * t for t in terms) / len(terms)
    positive = [t for t in terms if t > 1e-16]
    return sum(positive) / (len(positive) + 1e-16)


@pytest.mark.parametrize("mode", ["batch_hard", "all"])
def test_one_side_triplet_matches_loops(mode):
    emb, label, domain = batch(5, n_bona=6, n_attack=5)
    margin = 0.5  # large enough that some but not all triplets are active
    loss = one_side_triplet_loss(emb, label, domain, margin=margin, mining=mode)
    ref = ref_one_side(emb, label, margin, mode)
    assert_same_value_and_grad(loss, ref, emb)
    cross = one_side_triplet_loss(emb, label, domain, margin=margin, mining=mode, cross_domain_positives_only=True)
    assert_same_value_and_grad(cross, ref_one_side(emb, label, margin, mode, domain=domain), emb)


def test_one_side_mean_positive_differs_from_mean():
    emb, label, _ = batch(6)
    per = torch.relu(torch.sub(*anomaly_triplets(emb, label, mode="all")) + 0.5)
    assert (per == 0).any() and (per > 0).any()
    assert reduce_loss(per, "mean_positive") > reduce_loss(per, "mean")


@pytest.mark.parametrize("mode", ["batch_hard", "all"])
def test_one_side_triplet_ignores_attack_attack_pairs(mode):
    # Bona fide embeddings live in the span of the first 3 axes; each attack has a part in that span
    # plus an orthogonal part of fixed norm. Rotating the orthogonal parts (independently per attack)
    # keeps every attack's norm and its inner products with bona fide, hence every bona fide–attack
    # distance after L2 normalisation, while the attack–attack distances change.
    g = torch.Generator().manual_seed(7)
    dim, n_bona, n_attack = 10, 5, 6
    bona = torch.zeros(n_bona, dim)
    bona[:, :3] = torch.randn(n_bona, 3, generator=g)
    inside = torch.randn(n_attack, 3, generator=g)
    outside = torch.randn(n_attack, dim - 3, generator=g)

    def attacks(out):
        return torch.cat([inside, out], 1)

    rotations = [torch.linalg.qr(torch.randn(dim - 3, dim - 3, generator=g))[0] for _ in range(n_attack)]
    moved = torch.stack([rotations[k] @ outside[k] for k in range(n_attack)])
    label = torch.tensor([1] * n_bona + [0] * n_attack)
    before = torch.cat([bona, attacks(outside)])
    after = torch.cat([bona, attacks(moved)])

    def normed_attack_gaps(e):
        f = torch.nn.functional.normalize(e[n_bona:], dim=1)
        return torch.cdist(f, f)

    assert (normed_attack_gaps(before) - normed_attack_gaps(after)).abs().max() > 0.1  # attacks really moved
    loss_before = one_side_triplet_loss(before, label, margin=1.0, mining=mode)
    loss_after = one_side_triplet_loss(after, label, margin=1.0, mining=mode)
    assert loss_before > 0
    torch.testing.assert_close(loss_before, loss_after)
    # A loss with attack anchors would have seen the move: the reference triplets with labels
    # swapped (attacks as anchors) change.
    swapped = 1 - label
    assert not torch.allclose(*(metric_softmax_loss(*anomaly_triplets(e, swapped, mode=mode)) for e in (before, after)))


def test_one_side_domain_shape_checked():
    emb, label, domain = batch(0)
    with pytest.raises(ValueError, match="domain"):
        one_side_triplet_loss(emb, label, domain[:-1])


# -- MMD --------------------------------------------------------------------------------------


def ref_mmd(x, y, bandwidths):
    def k(u, v):
        d2 = sum((a - b) ** 2 for a, b in zip(u, v))
        return sum(torch.exp(-d2 / (2 * s * s)) for s in bandwidths) / len(bandwidths)

    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n)) / (n * n)
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    xy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return xx + yy - 2 * xy


def test_mmd_matches_loops_with_gradients():
    g = torch.Generator().manual_seed(8)
    x = torch.randn(6, 4, generator=g).requires_grad_(True)
    y = (torch.randn(5, 4, generator=g) + 0.5).requires_grad_(True)
    bandwidths = [0.5, 1.0, 2.0]
    loss = mmd_loss(x, y, bandwidths)
    ref = ref_mmd(x, y, bandwidths)
    assert_same_value_and_grad(loss, ref, x)
    assert_same_value_and_grad(loss, ref, y)


def test_mmd_default_bandwidths_are_median_heuristic():
    g = torch.Generator().manual_seed(9)
    x, y = torch.randn(5, 3, generator=g), torch.randn(4, 3, generator=g)
    z = torch.cat([x, y])
    median = statistics.median(float(ref_dist(z[i], z[j])) for i in range(len(z)) for j in range(i + 1, len(z)))
    assert median_bandwidth(x, y) == pytest.approx(median)
    expected = ref_mmd(x, y, [median * f for f in (0.25, 0.5, 1, 2, 4)])
    torch.testing.assert_close(mmd_loss(x, y), expected)
    assert median_bandwidth(torch.ones(3, 2), torch.ones(2, 2)) == 1.0  # all identical → fallback


def test_mmd_zero_for_identical_and_grows_with_shift():
    g = torch.Generator().manual_seed(10)
    x = torch.randn(64, 8, generator=g)
    y = torch.randn(64, 8, generator=g)
    assert abs(float(mmd_loss(x, x.clone()))) < 1e-12
    same = float(mmd_loss(x, y))
    shifted = float(mmd_loss(x, y + 1.0))
    far = float(mmd_loss(x, y + 3.0))
    assert 0 <= same < shifted < far
    assert shifted > 5 * same


def test_mmd_rejects_bad_shapes():
    with pytest.raises(ValueError):
        mmd_loss(torch.randn(3, 4), torch.randn(3, 5))


# -- paired similarity -------------------------------------------------------------------------


def test_paired_similarity_matches_loops():
    g = torch.Generator().manual_seed(11)
    e_s = torch.randn(8, 5, generator=g).mul(0.4).requires_grad_(True)
    e_t = torch.randn(8, 5, generator=g).mul(0.4).requires_grad_(True)
    same = torch.tensor([1, 0, 1, 0, 0, 1, 0, 1.0])
    margin = 1.2
    loss = paired_similarity_loss(e_s, e_t, same, margin=margin)
    terms = []
    for i in range(8):
        d2 = sum((a - b) ** 2 for a, b in zip(e_s[i], e_t[i]))
        d = torch.sqrt(d2)
        terms.append(d2 if same[i] == 1 else (margin - d) ** 2 if d < margin else 0 * d)
    ref = sum(terms) / 8
    different = [t.item() for t, y in zip(terms, same) if y == 0]
    assert any(t == 0 for t in different) and any(t > 0 for t in different)  # both hinge branches
    assert_same_value_and_grad(loss, ref, e_s)
    assert_same_value_and_grad(loss, ref, e_t)


def test_paired_similarity_by_hand_and_zero_distance_gradient():
    e_s = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]], requires_grad=True)
    e_t = torch.tensor([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]])
    # same pair at distance 5 → 25; different at 0.5 with m = 1 → 0.25; different at 0 → 1
    per = paired_similarity_loss(e_s, e_t, torch.tensor([1.0, 0.0, 0.0]), margin=1.0, reduction="none")
    torch.testing.assert_close(per, torch.tensor([25.0, 0.25, 1.0]))
    g, = torch.autograd.grad(per.sum(), e_s)
    assert torch.isfinite(g).all()


# -- depth ------------------------------------------------------------------------------------


def test_depth_losses_match_loops():
    g = torch.Generator().manual_seed(12)
    pred = torch.rand(2, 1, 6, 7, generator=g).requires_grad_(True)
    target = torch.rand(2, 6, 7, generator=g)
    p = pred[:, 0]
    n, h, w = target.shape
    mse_terms = [(p[b, i, j] - target[b, i, j]) ** 2 for b in range(n) for i in range(h) for j in range(w)]
    assert_same_value_and_grad(depth_loss(pred, target), sum(mse_terms) / len(mse_terms), pred)
    neighbours = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]
    cdl_terms = [
        ((p[b, i + di, j + dj] - p[b, i, j]) - (target[b, i + di, j + dj] - target[b, i, j])) ** 2
        for b in range(n)
        for di, dj in neighbours
        for i in range(1, h - 1)
        for j in range(1, w - 1)
    ]
    assert len(cdl_terms) == n * 8 * (h - 2) * (w - 2)
    assert_same_value_and_grad(contrastive_depth_loss(pred, target), sum(cdl_terms) / len(cdl_terms), pred)


def test_contrastive_depth_ignores_constant_offset():
    target = torch.rand(2, 8, 8)
    assert float(contrastive_depth_loss(target + 0.3, target)) < 1e-20
    assert float(depth_loss(target + 0.3, target)) == pytest.approx(0.09)


def test_duplicate_embeddings_keep_gradients_finite():
    emb = torch.tensor([[1.0, 0.0], [1.0, 0.0], [2.0, 0.0], [0.0, 1.0]], requires_grad=True)  # rows 0-2 coincide after L2
    label = torch.tensor([1, 1, 1, 0])
    for mode in ("batch_hard", "all"):
        loss = one_side_triplet_loss(emb, label, margin=0.5, mining=mode) + metric_softmax_loss(*anomaly_triplets(emb, label, mode))
        g, = torch.autograd.grad(loss, emb)
        assert torch.isfinite(g).all() and loss.item() > 0
