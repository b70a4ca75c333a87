"""segmentation-models-pytorch networks for DepthSeg (Zhang et al., IJCNN 2022).

The DeepFAS table [V] lists the paper's backbones as "PSPNet, DeepLabv3+"; these are smp's
``PSPNet`` and ``DeepLabV3Plus`` on a ResNet encoder. Nothing is downloaded: ``encoder_weights=None``
always; local weights go in through ``load_encoder_weights`` (torchvision ResNet names match smp's
ResNet encoder).
"""

from __future__ import annotations

import os
from pathlib import Path

from torch import nn

from vaultlab.nn.backbones import load_pretrained

SEGMENTATION_VARIANTS = ("pspnet", "deeplabv3plus")


def build_segmentation_net(variant: str, encoder: str = "resnet18", classes: int = 1, decoder_channels: int | None = None) -> nn.Module:
    """An smp network mapping [B,3,H,W] → [B,classes,H,W]; H, W must be multiples of 16 for DeepLabV3+."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # smp asks the hub only for weights; make sure it never tries
    import segmentation_models_pytorch as smp

    options = {} if decoder_channels is None else {"decoder_channels": int(decoder_channels)}
    if variant == "pspnet":
        return smp.PSPNet(encoder_name=encoder, encoder_weights=None, classes=classes, **options)
    if variant == "deeplabv3plus":
        # smp's defaults are the DeepLabV3+ paper's: output stride 16, atrous rates (12, 24, 36)
        return smp.DeepLabV3Plus(encoder_name=encoder, encoder_weights=None, classes=classes, **options)
    raise ValueError(f"unknown segmentation variant {variant!r}; expected one of {', '.join(SEGMENTATION_VARIANTS)}")


def load_encoder_weights(net: nn.Module, path: str | Path) -> list[str]:
    """Load local (e.g. torchvision ImageNet) ResNet weights into the smp encoder; returns the tensors loaded."""
    return [f"encoder.{k}" for k in load_pretrained(net.encoder, path)]
