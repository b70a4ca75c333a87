"""segmentation-models-pytorch networks for DepthSeg (Zhang et al., IJCNN 2022).

The DeepFAS table [V] lists the paper's backbones as "PSPNet, DeepLabv3+"; these are smp's
``PSPNet`` and ``DeepLabV3Plus`` on a ResNet encoder. Nothing is downloaded: ``encoder_weights=None``
always; local weights go in through ``load_encoder_weights`` (torchvision ResNet names match smp's
ResNet encoder).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from vaultlab.nn.backbones import load_pretrained, register_backbone

SEGMENTATION_VARIANTS = ("pspnet", "deeplabv3plus")


def _offline_smp():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # smp asks the hub only for weights; make sure it never tries
    import segmentation_models_pytorch as smp

    return smp


def build_segmentation_net(variant: str, encoder: str = "resnet18", classes: int = 1, decoder_channels: int | None = None,
                           output_stride: int | None = None, atrous_rates: tuple[int, ...] | list[int] | None = None,
                           deeplab_encoder_depth: int | None = None) -> nn.Module:
    """An smp network mapping [B,3,H,W] → [B,classes,H,W]; H, W must be multiples of 16 for DeepLabV3+.

    ``decoder_channels`` is the decoder's width: smp's ``psp_out_channels`` for PSPNet (default 512),
    ``decoder_channels`` for DeepLabV3+ (default 256). ``output_stride``, ``atrous_rates`` and
    ``deeplab_encoder_depth`` (the encoder stages DeepLabV3+ uses, smp's ``encoder_depth``: 5 by
    default, 3–5 allowed; 4 leaves ResNet's layer4 out, so the ASPP reads layer3, at stride 16 without
    dilation) apply to DeepLabV3+ only (PSPNet has no stride or rates, and keeps smp's encoder depth 3).
    smp passes keywords its model does not know on to the encoder, which ignores them: so every option
    is named here under the keyword its model reads."""
    smp = _offline_smp()
    if variant == "pspnet":
        options = {} if decoder_channels is None else {"psp_out_channels": int(decoder_channels)}
        return smp.PSPNet(encoder_name=encoder, encoder_weights=None, classes=classes, **options)
    if variant == "deeplabv3plus":
        options = {} if decoder_channels is None else {"decoder_channels": int(decoder_channels)}
        # smp's defaults: output stride 16, atrous rates (12, 24, 36)
        if output_stride is not None:
            options["encoder_output_stride"] = int(output_stride)
        if atrous_rates is not None:
            options["decoder_atrous_rates"] = tuple(int(r) for r in atrous_rates)
        if deeplab_encoder_depth is not None:
            options["encoder_depth"] = int(deeplab_encoder_depth)
        return smp.DeepLabV3Plus(encoder_name=encoder, encoder_weights=None, classes=classes, **options)
    raise ValueError(f"unknown segmentation variant {variant!r}; expected one of {', '.join(SEGMENTATION_VARIANTS)}")


def load_encoder_weights(net: nn.Module, path: str | Path) -> list[str]:
    """Load local (e.g. torchvision ImageNet) ResNet weights into the smp encoder; returns the tensors loaded."""
    return [f"encoder.{k}" for k in load_pretrained(net.encoder, path)]


class SmpEncoderFeatures(nn.Module):
    """The segmentation network's encoder alone + global average pooling: the DepthSeg baseline's
    "same backbone". Kept under ``net`` so torchvision ResNet weights load by name (``backbone.net.*``)."""

    def __init__(self, encoder: str = "resnet18"):
        super().__init__()
        self.net = _offline_smp().encoders.get_encoder(encoder, weights=None)
        self.out_features = self.net.out_channels[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)[-1].mean(dim=(2, 3))


@register_backbone("smp_encoder")
def smp_encoder(encoder: str = "resnet18") -> nn.Module:
    return SmpEncoderFeatures(encoder)
