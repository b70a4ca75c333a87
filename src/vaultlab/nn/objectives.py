"""Losses with one signature, registered under the loss ids of ``methods/vocabulary.yaml``.

``create("loss", id)`` gives a callable ``loss(outputs, batch) → scalar``: ``outputs`` are the model's
named outputs (one per head: ``binary`` logits [B], ``depth`` maps [B,1,s,s], ``pixel`` logits
[B,1,s,s], ``parsing`` logits [B,K,s,s], ``embedding`` [B,E], ``domain`` logits [B,n]) and ``batch`` is
the engine's batch (``label`` 1 bona fide / 0 attack, ``domain`` ids, ``depth``, ``parsing``). The
decorator's literals tell the torch-free manifest what each loss needs: ``heads`` (outputs it reads),
``targets`` (batch keys beyond label/domain), ``choice`` (the settings it fixes, listed by
``vaultlab show`` as an assumption).

A recipe weighs the losses with ``components["losses"]`` (see ``recipes.base.loss_weight`` for the
one rule on missing weights); onesidetriplet's episodes, depthseg's regression target and the
shared BCE step train on these too (anomaly keeps one mining for its two triplet terms, see
``recipes/anomaly.py``). The formulas themselves live in ``nn/losses.py`` (distillation also calls
its teacher/student MMD and pair forms directly); metric-learning losses whose form
pytorch-metric-learning ships come from it (TripletMarginLoss, SupConLoss, ContrastiveLoss,
BatchHardMiner).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from vaultlab.data.sampleset import BONA_FIDE
from vaultlab.nn.losses import (
    contrastive_depth_loss, depth_loss, metric_softmax_loss, mmd_loss, one_side_triplet_loss, paired_similarity_loss,
    triplet_focal_loss,
)
from vaultlab.nn.miners import anomaly_triplets
from vaultlab.registry import register_loss

Loss = Callable[[dict[str, torch.Tensor], dict[str, torch.Tensor]], torch.Tensor]


def _zero(like: torch.Tensor) -> torch.Tensor:
    """A zero that keeps the graph (a batch the loss has nothing to say about)."""
    return like.sum() * 0.0


def depth_target(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Pseudo-depth for bona fide faces, zeros for attacks (CDCN / RFMeta convention)."""
    live = (batch["label"] == BONA_FIDE).to(batch["depth"].dtype).view(-1, 1, 1, 1)
    return batch["depth"] * live


# -- classification ---------------------------------------------------------------------------------

@register_loss("bce", heads=("binary",), choice="one bona fide logit, binary cross-entropy (= 2-way softmax CE)")
def bce() -> Loss:
    def loss(outputs, batch):
        return F.binary_cross_entropy_with_logits(outputs["binary"].float(), batch["label"].float())

    return loss


@register_loss("focal", heads=("binary",),
               choice="binary focal loss on the bona fide logit (torchvision sigmoid_focal_loss), γ 2, no α class weight, mean")
def focal(gamma: float = 2.0, alpha: float = -1.0) -> Loss:
    """Lin et al., ICCV 2017: BCE scaled by (1 − p_t)^γ, so easy samples weigh less. α (the weight of
    the bona fide class, −1 = none) is off: live/spoof has no rare class by design, and the
    balanced sampler already evens the classes."""
    from torchvision.ops import sigmoid_focal_loss

    def loss(outputs, batch):
        return sigmoid_focal_loss(outputs["binary"].float(), batch["label"].float(), alpha=alpha, gamma=gamma, reduction="mean")

    return loss


@register_loss("pixel_bce", heads=("pixel",), choice="DeepPixBiS: BCE of every map pixel against the image's label, 14×14 map")
def pixel_bce() -> Loss:
    """Pixel-wise binary supervision (George & Marcel, ICB 2019): every pixel of the map predicts the label."""
    def loss(outputs, batch):
        logits = outputs["pixel"].float()
        target = batch["label"].float().view(-1, 1, 1, 1).expand_as(logits)
        return F.binary_cross_entropy_with_logits(logits, target)

    return loss


# -- dense supervision ------------------------------------------------------------------------------

@register_loss("depth_mse", heads=("depth",), targets=("depth",), choice="MSE to pseudo-depth (bona fide) / zeros (attacks)")
def depth_mse() -> Loss:
    return lambda outputs, batch: depth_loss(outputs["depth"].float(), depth_target(batch))


@register_loss("contrastive_depth", heads=("depth",), targets=("depth",), choice="CDCN's 8 neighbour-difference kernels, MSE")
def contrastive_depth() -> Loss:
    return lambda outputs, batch: contrastive_depth_loss(outputs["depth"].float(), depth_target(batch))


@register_loss("segmentation_ce", heads=("parsing",), targets=("parsing",), choice="pixel CE to the face-parsing map; attacks labelled background")
def segmentation_ce(attacks: str = "background") -> Loss:
    """Pixel CE to the face-parsing map. ``attacks="background"`` labels every pixel of an attack
    background (a presentation is no face); ``"as_given"`` keeps the parsing map the attack shows."""
    if attacks not in ("background", "as_given"):
        raise ValueError(f"segmentation_ce: attacks must be 'background' or 'as_given', not {attacks!r}")

    def loss(outputs, batch):
        target = batch["parsing"]
        if attacks == "background":
            target = target * (batch["label"] == BONA_FIDE).view(-1, 1, 1)
        return F.cross_entropy(outputs["parsing"].float(), target)

    return loss


# -- metric learning --------------------------------------------------------------------------------

@register_loss("triplet", heads=("embedding",), choice="pytorch-metric-learning TripletMarginLoss, margin 0.1, batch-hard miner, L2-normalised")
def triplet(margin: float = 0.1) -> Loss:
    from pytorch_metric_learning import losses, miners

    criterion, miner = losses.TripletMarginLoss(margin=margin), miners.BatchHardMiner()

    def loss(outputs, batch):
        emb = outputs["embedding"].float()
        return criterion(emb, batch["label"], miner(emb, batch["label"]))

    return loss


@register_loss("asymmetric_triplet", heads=("embedding",),
               choice="SSDG: bona fide of all domains one class, each domain's attacks their own class; TripletMarginLoss margin 0.1")
def asymmetric_triplet(margin: float = 0.1) -> Loss:
    """Asymmetric triplet (Jia et al., SSDG, CVPR 2020): bona fide faces of every domain share one
    class, attacks keep a class per domain, so bona fide is made compact while attacks of different
    domains may stay apart; a standard triplet loss on those classes."""
    from pytorch_metric_learning import losses

    criterion = losses.TripletMarginLoss(margin=margin)

    def loss(outputs, batch):
        live = batch["label"] == BONA_FIDE
        classes = torch.where(live, torch.zeros_like(batch["domain"]), batch["domain"] + 1)
        return criterion(outputs["embedding"].float(), classes)

    return loss


@register_loss("one_side_triplet", heads=("embedding",), choice="one-side triplet (bona fide anchors only), margin 0.1, all triplets, mean over positive")
def one_side_triplet(margin: float = 0.1, mining: str = "all") -> Loss:
    """Chuang et al. 2023 (``nn/losses.one_side_triplet_loss``): bona fide anchors and positives of all
    domains, attack negatives; ``mining`` "all" (every triplet, mean over the positive ones) or "batch_hard"."""
    return lambda outputs, batch: one_side_triplet_loss(outputs["embedding"].float(), batch["label"], batch["domain"], margin=margin,
                                                        mining=mining)


@register_loss("supcon", heads=("embedding",), choice="pytorch-metric-learning SupConLoss, temperature 0.1, live/spoof classes")
def supcon(temperature: float = 0.1) -> Loss:
    from pytorch_metric_learning import losses

    criterion = losses.SupConLoss(temperature=temperature)
    return lambda outputs, batch: criterion(outputs["embedding"].float(), batch["label"])


@register_loss("contrastive", heads=("embedding",), choice="pytorch-metric-learning ContrastiveLoss, positive margin 0, negative margin 1")
def contrastive() -> Loss:
    from pytorch_metric_learning import losses

    criterion = losses.ContrastiveLoss(pos_margin=0.0, neg_margin=1.0)
    return lambda outputs, batch: criterion(outputs["embedding"].float(), batch["label"])


@register_loss("metric_softmax", heads=("embedding",), choice="Pérez-Cabo 2019 metric-softmax on batch-hard anomaly triplets")
def metric_softmax() -> Loss:
    def loss(outputs, batch):
        d_ap, d_an = anomaly_triplets(outputs["embedding"].float(), batch["label"], mode="batch_hard")
        return metric_softmax_loss(d_ap, d_an) if len(d_ap) else _zero(outputs["embedding"])

    return loss


@register_loss("triplet_focal", heads=("embedding",), choice="Pérez-Cabo 2019 triplet focal, σ 0.3, margin 0.2, batch-hard anomaly triplets")
def triplet_focal(sigma: float = 0.3, margin: float = 0.2) -> Loss:
    def loss(outputs, batch):
        d_ap, d_an = anomaly_triplets(outputs["embedding"].float(), batch["label"], mode="batch_hard")
        return triplet_focal_loss(d_ap, d_an, sigma=sigma, margin=margin) if len(d_ap) else _zero(outputs["embedding"])

    return loss


# -- domain alignment -------------------------------------------------------------------------------

@register_loss("mmd", heads=("embedding",), choice="multi-bandwidth RBF MMD² of each domain's embeddings against the other domains', averaged")
def mmd() -> Loss:
    def loss(outputs, batch):
        emb, domain = outputs["embedding"].float(), batch["domain"]
        present = torch.unique(domain)
        if len(present) < 2:
            return _zero(emb)
        return torch.stack([mmd_loss(emb[domain == d], emb[domain != d]) for d in present]).mean()

    return loss


@register_loss("paired_similarity", heads=("embedding",),
               choice="contrastive loss over every cross-domain pair, same label pulled, different pushed past margin 1, L2-normalised")
def paired_similarity(margin: float = 1.0) -> Loss:
    def loss(outputs, batch):
        emb, domain, label = F.normalize(outputs["embedding"].float(), dim=1), batch["domain"], batch["label"]
        i, j = torch.triu_indices(len(emb), len(emb), offset=1, device=emb.device)
        cross = domain[i] != domain[j]
        if not bool(cross.any()):
            return _zero(emb)
        i, j = i[cross], j[cross]
        return paired_similarity_loss(emb[i], emb[j], (label[i] == label[j]).to(emb.dtype), margin=margin)

    return loss


@register_loss("adversarial", heads=("domain",), choice="domain discriminator behind gradient reversal (λ 1), CE over all samples")
def adversarial() -> Loss:
    """Domain-adversarial training (Ganin & Lempitsky 2015): the reversed gradient makes features domain-invariant."""
    return lambda outputs, batch: F.cross_entropy(outputs["domain"].float(), batch["domain"])


@register_loss("single_side_adversarial", heads=("domain",),
               choice="SSDG single-side: discriminator behind gradient reversal on bona fide samples only")
def single_side_adversarial() -> Loss:
    """Single-side adversarial learning (Jia et al., SSDG, CVPR 2020): only bona fide features are
    aligned across domains; attacks are left free to spread."""
    def loss(outputs, batch):
        live = batch["label"] == BONA_FIDE
        if not bool(live.any()):
            return _zero(outputs["domain"])
        return F.cross_entropy(outputs["domain"][live].float(), batch["domain"][live])

    return loss
