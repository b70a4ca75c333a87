"""Paper-specific losses, each one short function whose docstring carries its formula and source.

``nn/objectives.py`` registers the uniform ``loss(outputs, batch)`` form of each under its vocabulary
id, which is what the recipes train on; distillation calls ``mmd_loss`` and ``paired_similarity_loss``
directly, between teacher features of source samples and student features of target samples.

The formulas come from ``reference/papers.md`` and are tagged there [R] (recalled) or [I]
(inferred): none is verified against the papers' PDFs. Mining lives in ``nn/miners.py``; reduction
in ``reduce_loss``. Labels: 1 bona fide, 0 attack. Distances are Euclidean, not squared, unless a
function says otherwise.
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
import torch.nn.functional as F

from vaultlab.nn.miners import MiningMode, anomaly_triplets, pairwise_distances, safe_sqrt

Reduction = Literal["mean", "sum", "none", "mean_positive"]


def reduce_loss(per_item: torch.Tensor, reduction: Reduction = "mean") -> torch.Tensor:
    """Reduce per-triplet / per-pair losses.

    ``mean`` and ``sum`` as usual; ``none`` returns them as they are; ``mean_positive`` averages over
    the items with a positive loss only, sum / (#{l > 1e-16} + 1e-16), as SSDG's HardTripletLoss
    does (so easy triplets do not dilute the hard ones). An empty input reduces to a zero that
    keeps the graph (a batch without valid triplets contributes nothing).
    """
    if reduction == "none":
        return per_item
    if per_item.numel() == 0 or reduction == "sum":
        return per_item.sum()
    if reduction == "mean":
        return per_item.mean()
    if reduction == "mean_positive":
        return per_item.sum() / ((per_item > 1e-16).sum() + 1e-16)
    raise ValueError(f"unknown reduction {reduction!r}; expected mean, sum, none or mean_positive")


# -- triplet losses on mined distances (Pérez-Cabo et al. 2019, "Deep Anomaly Detection for
#    Generalized Face Anti-Spoofing", CVPRW; papers.md §1.3, forms [R]) ----------------------


def metric_softmax_loss(d_ap: torch.Tensor, d_an: torch.Tensor, reduction: Reduction = "mean") -> torch.Tensor:
    """Metric-softmax: a 2-way softmax over each triplet's two distances that rewards a far negative.

        L_MS = −log( e^{d_an} / (e^{d_ap} + e^{d_an}) ) = log(1 + exp(d_ap − d_an))

    averaged over triplets (Pérez-Cabo et al. 2019 [R]; equals a soft-margin triplet [I]; papers.md
    notes the sign would flip if the paper used e^{−d} as similarity). Computed as softplus for
    stability.
    """
    return reduce_loss(F.softplus(d_ap - d_an), reduction)


def triplet_focal_loss(
    d_ap: torch.Tensor, d_an: torch.Tensor, sigma: float = 0.3, margin: float = 0.2, reduction: Reduction = "mean"
) -> torch.Tensor:
    """Triplet focal loss: distances mapped through an exponential kernel, so hard triplets weigh more.

        L_TF = max(0, exp(d_ap/σ) − exp(d_an/σ) + α)

    averaged over triplets (Pérez-Cabo et al. 2019 [R]). Defaults σ = 0.3, α = 0.2 are those of the
    third-party implementations [V-3p], not verified as the paper's.
    """
    return reduce_loss(F.relu(torch.exp(d_ap / sigma) - torch.exp(d_an / sigma) + margin), reduction)


def triplet_margin_loss(d_ap: torch.Tensor, d_an: torch.Tensor, margin: float = 0.1, reduction: Reduction = "mean") -> torch.Tensor:
    """Plain triplet hinge: max(0, d_ap − d_an + m)."""
    return reduce_loss(F.relu(d_ap - d_an + margin), reduction)


def one_side_triplet_loss(
    emb: torch.Tensor,
    label: torch.Tensor,
    domain: torch.Tensor | None = None,
    margin: float = 0.1,
    mining: MiningMode = "all",
    cross_domain_positives_only: bool = False,
    squared: bool = False,
) -> torch.Tensor:
    """One-side triplet (Chuang, Wang, Lai 2023, FG; papers.md §2.3, form [R/I]).

        L_os = reduce over (a, p, n) of max(0, d(a, p) − d(a, n) + m)

    with a, p bona fide from **all** source domains (cross-domain positives allowed) and n an attack;
    d is the Euclidean distance between L2-normalised embeddings (``squared`` for ‖·‖²). Attacks are
    never anchors, so attack–attack pairs never contribute: only the bona fide side is made compact
    and attacks of different domains may stay apart (SSDG's single-side idea).

    Mining and reduction:
      - ``mining="all"`` (default): every valid triplet, averaged over those with positive loss, as
        SSDG's ``HardTripletLoss(margin=0.1, hardest=False)`` [V] (the closest prior art).
      - ``mining="batch_hard"``: hardest positive and hardest negative per bona fide anchor, mean.

    ``domain`` ([B] ids) is only used with ``cross_domain_positives_only=True``, which keeps the
    positives whose domain differs from the anchor's (a stricter reading of "compact across
    domains" [I]).
    """
    if domain is not None and domain.shape != label.shape:
        raise ValueError(f"one_side_triplet_loss: domain {tuple(domain.shape)} does not match label {tuple(label.shape)}")
    d_ap, d_an = anomaly_triplets(emb, label, mode=mining, squared=squared, domain=domain if cross_domain_positives_only else None)
    return triplet_margin_loss(d_ap, d_an, margin, reduction="mean_positive" if mining == "all" else "mean")


# -- domain alignment and pairs (Li, Wang, He, Rocha 2020, "Face Anti-Spoofing With Deep Neural
#    Network Distillation", IEEE J-STSP; papers.md §3.3, forms [R/I]) -------------------------


def median_bandwidth(x: torch.Tensor, y: torch.Tensor) -> float:
    """Median heuristic: median Euclidean distance over all distinct pairs of the pooled samples.

    Falls back to 1.0 when the median is 0 (e.g. all samples identical). No gradient flows.
    """
    z = torch.cat([x, y]).detach()
    i, j = torch.triu_indices(len(z), len(z), offset=1, device=z.device)
    if len(i) == 0:
        return 1.0
    d = (z[i] - z[j]).pow(2).sum(1).sqrt()
    median = float(d.quantile(0.5))  # even count: mean of the two middle values
    return median if median > 0 else 1.0


def mmd_loss(
    x: torch.Tensor, y: torch.Tensor, bandwidths: Sequence[float] | torch.Tensor | None = None
) -> torch.Tensor:
    """Biased MMD² with a multi-bandwidth Gaussian RBF kernel (DAN style, Long et al. 2015).

        k(u, v) = 1/S Σ_s exp(−‖u − v‖² / (2σ_s²))
        MMD² = 1/n² Σ_ij k(x_i, x_j) + 1/m² Σ_ij k(y_i, y_j) − 2/(nm) Σ_ij k(x_i, y_j)

    x: [n, D] (e.g. teacher features of source samples), y: [m, D] (student features of target
    samples). ``bandwidths`` are the σ_s; default = median heuristic σ_med (``median_bandwidth`` over
    the pooled batch, no gradient) × {0.25, 0.5, 1, 2, 4}. Kernels are averaged (equal weights), so
    k ∈ [0, 1] and MMD² ∈ [0, 2]. Used by Li et al. 2020 between teacher-source and student-target
    FC features [R/I]; the paper's kernel and bandwidths are not verified.
    """
    if x.dim() != 2 or y.dim() != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"mmd_loss: expected [n, D] and [m, D], got {tuple(x.shape)} and {tuple(y.shape)}")
    if len(x) == 0 or len(y) == 0:
        raise ValueError("mmd_loss: both samples need at least one row")
    if bandwidths is None:
        sigma = median_bandwidth(x, y)
        bandwidths = [sigma * f for f in (0.25, 0.5, 1.0, 2.0, 4.0)]
    sig = torch.as_tensor(bandwidths, dtype=x.dtype, device=x.device).reshape(-1)

    def kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        d2 = pairwise_distances(a, b, squared=True)
        return torch.exp(-d2[..., None] / (2 * sig**2)).mean(-1)

    return kernel(x, x).mean() + kernel(y, y).mean() - 2 * kernel(x, y).mean()


def paired_similarity_loss(
    e_s: torch.Tensor, e_t: torch.Tensor, same_label: torch.Tensor, margin: float = 1.0, reduction: Reduction = "mean"
) -> torch.Tensor:
    """Contrastive loss over cross-domain pairs (e_s[i], e_t[i]) (Li et al. 2020 [R/I]).

        L = y·‖e_s − e_t‖² + (1 − y)·max(0, m − ‖e_s − e_t‖)²

    y = 1 for same-label pairs (live–live, spoof–spoof), pulled together; y = 0 for live–spoof pairs,
    pushed beyond the margin m. Embeddings are used as given (normalise before if wanted). The pair
    rule is the caller's (the registered ``paired_similarity`` takes every cross-domain pair of a batch;
    distillation pairs each target sample with a source one); papers.md notes the paper
    may instead match teacher/student similarity structures.
    """
    if e_s.shape != e_t.shape or same_label.shape != e_s.shape[:1]:
        raise ValueError(f"paired_similarity_loss: e_s {tuple(e_s.shape)}, e_t {tuple(e_t.shape)}, same_label {tuple(same_label.shape)}")
    y = same_label.to(e_s.dtype)
    d2 = (e_s - e_t).pow(2).sum(1)
    d = safe_sqrt(d2)
    return reduce_loss(y * d2 + (1 - y) * F.relu(margin - d).pow(2), reduction)


# -- dense depth supervision ------------------------------------------------------------------


def depth_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Pixel-wise depth regression: mean (pred − target)² (the depth MSE of RFMeta/CDCN; targets are
    pseudo-depth for bona fide, zeros for attacks). ``pred`` may carry a channel axis of 1."""
    pred, target = _as_depth_maps(pred, target)
    return F.mse_loss(pred, target)


# CDCN's 8 contrast kernels: neighbour − centre, one per neighbour of the 3×3 window.
_CONTRAST_KERNELS = torch.tensor(
    [
        [[1, 0, 0], [0, -1, 0], [0, 0, 0]], [[0, 1, 0], [0, -1, 0], [0, 0, 0]], [[0, 0, 1], [0, -1, 0], [0, 0, 0]],
        [[0, 0, 0], [1, -1, 0], [0, 0, 0]], [[0, 0, 0], [0, -1, 1], [0, 0, 0]],
        [[0, 0, 0], [0, -1, 0], [1, 0, 0]], [[0, 0, 0], [0, -1, 0], [0, 1, 0]], [[0, 0, 0], [0, -1, 0], [0, 0, 1]],
    ],
    dtype=torch.float32,
)  # fmt: skip


def contrast_depth(depth: torch.Tensor) -> torch.Tensor:
    """[N, H, W] → [N, 8, H−2, W−2]: each pixel's 8 neighbour differences (valid convolution)."""
    kernels = _CONTRAST_KERNELS.to(depth)[:, None]  # [8, 1, 3, 3]
    return F.conv2d(depth[:, None].expand(-1, 8, -1, -1), kernels, groups=8)


def contrastive_depth_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Contrastive depth loss (Yu et al. 2020, CDCN, CVPR; [V] ZitongYu/CDCN ``Contrast_depth_loss``):

        L_CDL = mean over i, pixels of (K_i ⊛ pred − K_i ⊛ target)²

    with K_1..K_8 the 3×3 kernels "neighbour − centre", valid convolution (no padding), as in the
    CDCN code.
    """
    pred, target = _as_depth_maps(pred, target)
    return F.mse_loss(contrast_depth(pred), contrast_depth(target))


def _as_depth_maps(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if pred.dim() == 4 and pred.shape[1] == 1:
        pred = pred[:, 0]
    if target.dim() == 4 and target.shape[1] == 1:
        target = target[:, 0]
    if pred.dim() != 3 or pred.shape != target.shape:
        raise ValueError(f"depth losses expect [N, H, W] (or [N, 1, H, W]) maps of one shape, got {tuple(pred.shape)} and {tuple(target.shape)}")
    return pred, target.to(pred.dtype)
