"""Miners: which (anchor, positive, negative) triplets a batch contributes.

Kept apart from the losses (pytorch-metric-learning habit): a loss turns distances into numbers,
a miner decides which distances exist. Labels follow ``data/sampleset.py``: 1 bona fide, 0 attack.

Anomaly triplets (Pérez-Cabo et al. 2019 [R/I]; the one-side triplet of Chuang et al. 2023 [R/I]):
anchors and positives are **bona fide**, negatives are **attacks**. Attacks are never anchors, so
attack–attack distances never enter a loss: the attacks are pushed away from the bona fide cluster
without being pulled together.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from vaultlab.data.sampleset import ATTACK, BONA_FIDE

MiningMode = Literal["batch_hard", "all"]


def safe_sqrt(x: torch.Tensor) -> torch.Tensor:
    """sqrt with gradient 0 (not inf/NaN) at x = 0: identical embeddings, or an anchor against
    itself, would otherwise poison the whole backward pass. Exact: no epsilon added to the value."""
    positive = x > 0
    return torch.where(positive, torch.where(positive, x, torch.ones_like(x)).sqrt(), torch.zeros_like(x))


def pairwise_distances(a: torch.Tensor, b: torch.Tensor, squared: bool = False) -> torch.Tensor:
    """[n, m] Euclidean distances ‖a_i − b_j‖ (or their squares), from explicit differences.

    Differences rather than ‖a‖² + ‖b‖² − 2a·b: exact zeros on identical rows and no cancellation.
    """
    d2 = (a[:, None, :] - b[None, :, :]).pow(2).sum(-1)
    return d2 if squared else safe_sqrt(d2)


def anomaly_triplets(
    emb: torch.Tensor,
    label: torch.Tensor,
    mode: MiningMode = "batch_hard",
    squared: bool = False,
    domain: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(d_ap, d_an) of the anomaly triplets of a batch, on L2-normalised embeddings.

    Args:
        emb: [B, D] embeddings; they are L2-normalised here (f(x)/‖f(x)‖), so distances lie in [0, 2].
        label: [B] 1 bona fide, 0 attack.
        mode: ``"batch_hard"`` — one triplet per bona fide anchor a: its farthest bona fide positive
            (p ≠ a) and its nearest attack (Hermans et al. 2017 batch-hard).
            ``"all"`` — every valid (a, p, n): a ≠ p bona fide, n attack; Nb·(Nb−1)·Na triplets.
        squared: distance d = ‖f(a) − f(p)‖² if True, else ‖f(a) − f(p)‖ (default, as the
            third-party triplet-focal code and SSDG's HardTripletLoss use).
        domain: optional [B] domain ids; when given, positives must come from a domain other than
            the anchor's (cross-domain positives only). Without it, positives come from all domains.

    Returns:
        Two 1-D tensors of equal length, one entry per triplet (batch_hard: per usable anchor, in
        batch order; all: anchor-major, then positive, then negative). Empty when the batch has no
        valid triplet (fewer than 2 bona fide, no attack, or no cross-domain positive).
    """
    if emb.dim() != 2 or label.shape != emb.shape[:1]:
        raise ValueError(f"anomaly_triplets: expected emb [B, D] and label [B], got {tuple(emb.shape)} and {tuple(label.shape)}")
    if mode not in ("batch_hard", "all"):
        raise ValueError(f"anomaly_triplets: unknown mode {mode!r}; expected 'batch_hard' or 'all'")
    emb = F.normalize(emb, dim=1)
    bona = label == BONA_FIDE
    attack = label == ATTACK
    anchors = emb[bona]
    d_ap = pairwise_distances(anchors, anchors, squared)  # [Nb, Nb]
    d_an = pairwise_distances(anchors, emb[attack], squared)  # [Nb, Na]
    valid_pos = ~torch.eye(len(anchors), dtype=torch.bool, device=emb.device)
    if domain is not None:
        dom = domain[bona]
        valid_pos &= dom[:, None] != dom[None, :]
    if mode == "batch_hard":
        if d_an.shape[1] == 0 or d_ap.shape[0] < 2:
            return d_ap.new_zeros(0), d_ap.new_zeros(0)
        usable = valid_pos.any(1)
        hardest_pos = d_ap.masked_fill(~valid_pos, float("-inf")).amax(1)  # any distance ≥ 0 beats −inf
        return hardest_pos[usable], d_an.amin(1)[usable]
    a, p = valid_pos.nonzero(as_tuple=True)
    n_neg = d_an.shape[1]
    d_ap_all = d_ap[a, p].repeat_interleave(n_neg)
    d_an_all = d_an[a].reshape(-1)
    return d_ap_all, d_an_all
