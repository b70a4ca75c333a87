from __future__ import annotations

import pytest
import torch

from vaultlab.nn.segmentation import build_segmentation_net


def _decoder_widths(net: torch.nn.Module) -> set[int]:
    """in_channels of the segmentation head's first conv: the width the decoder hands it."""
    return {m.in_channels for m in net.segmentation_head.modules() if isinstance(m, torch.nn.Conv2d)}


@pytest.mark.parametrize("variant", ["pspnet", "deeplabv3plus"])
def test_decoder_channels_sets_the_decoder_width(variant):
    # smp's PSPNet has no ``decoder_channels``: it forwards unknown keywords to the encoder, which drops
    # them, so the width stayed smp's 512 whatever the card said
    net = build_segmentation_net(variant, "resnet18", classes=3, decoder_channels=16)
    assert _decoder_widths(net) == {16}
    assert net.eval()(torch.zeros(1, 3, 32, 32)).shape == (1, 3, 32, 32)


def test_unknown_variant_is_refused():
    with pytest.raises(ValueError, match="pspnet, deeplabv3plus"):
        build_segmentation_net("unet")


def test_deeplab_encoder_depth_drops_the_last_stages_and_keeps_the_output_size():
    full = build_segmentation_net("deeplabv3plus", "resnet18", classes=3, decoder_channels=16)
    four = build_segmentation_net("deeplabv3plus", "resnet18", classes=3, decoder_channels=16, deeplab_encoder_depth=4)
    assert full.encoder.out_channels[-1] == 512 and four.encoder.out_channels[-1] == 256  # layer4 gone
    four.train()(torch.randn(2, 3, 64, 64)).sum().backward()
    used = {name.split(".")[0] for name, p in four.encoder.named_parameters() if p.grad is not None}
    assert "layer3" in used and "layer4" not in used  # smp keeps resnet18's layer4 weights, but never runs them
    assert four.eval()(torch.zeros(1, 3, 64, 64)).shape == (1, 3, 64, 64)
    # PSPNet has its own encoder depth (smp's 3): the DeepLabV3+ option leaves it alone
    psp = build_segmentation_net("pspnet", "resnet18", classes=3, deeplab_encoder_depth=4)
    assert psp.encoder.out_channels[-1] == 128
