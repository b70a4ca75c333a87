"""Quick Summaries as the Deep-FAS survey writes them (github.com/ZitongYu/DeepFAS, README tables):
standard parts run, paper-specific or vague parts block, naming the term and the closest buildable one.

Torch-free: resolution reads the registry's manifest only.
"""

from __future__ import annotations

import pytest

from vaultlab.catalog import resolve_note

DG = {"tags": ["paper", "domain-generalization"]}

# (survey method, Quick Summary, frontmatter) → runnable
RUNNABLE = [
    ("FASNet", {"Backbone": "VGG16", "Loss": "Binary CE loss", "Input": "RGB", "Static/Dynamic": "S"}, {}),
    ("CNN2", {"Backbone": "VGG11", "Loss": "Binary CE loss"}, {}),
    ("CompactNet", {"Backbone": "VGG19", "Loss": "Binary CE loss, Triplet loss"}, {}),
    ("CFSA-FAS", {"Backbone": "ResNet18", "Loss": "Binary CE loss", "Input": "RGB"}, {}),
    ("ViTranZFAS", {"Backbone": "ViT", "Loss": "Binary CE loss", "Input": "RGB"}, {}),
    ("TransRPPG backbone", {"Backbone": "Vision Transformer", "Loss": "Binary CE loss"}, {}),
    ("PixBiS", {"Supervision": "BinaryMask", "Backbone": "DenseNet161", "Input": "RGB"}, {}),
    ("DC-CDN", {"Supervision": "Depth", "Backbone": "CDCN", "Input": "RGB"}, {}),
    ("EPCR", {"Supervision": "BinaryMask", "Backbone": "CDCN", "Input": "RGB"}, {}),
    ("OR-DA", {"Backbone": "AlexNet", "Loss": "Binary CE loss, MMD loss"}, {}),
    ("OCA-FAS", {"Backbone": "DepthNet", "Loss": "Binary CE loss, Pixel-wise binary loss"}, {}),
    ("SSDG", {"Backbone": "ResNet18", "Loss": "Binary CE loss, Single-Side adversarial loss, Asymmetric Triplet loss"}, DG),
    ("RF-Meta", {"Backbone": "DepthNet", "Loss": "Binary CE loss, Depth loss"}, DG),
    ("D2AM", {"Backbone": "DepthNet", "Loss": "Binary CE loss, Depth loss, MMD loss"}, DG),
    ("CIFAS", {"Backbone": "ResNet18", "Loss": "CE loss, triplet loss"}, DG),
    ("AIM-FAS", {"Backbone": "DepthNet", "Loss": "Depth loss, Contrastive Depth loss", "Input": "RGB"}, {}),
    ("CompreEval", {"Backbone": "DenseNet-161", "Loss": "BCE loss, Pixel-wise binary loss"}, {}),
    ("MC-PixBiS", {"Backbone": "DenseNet161", "Loss": "Binary mask loss"}, {}),
    ("OneClassKD student", {"Backbone": "DepthNet", "Loss": "Pixel-wise Binary CE loss"}, {}),
    ("CIFL without its camera loss", {"Backbone": "ResNet18", "Loss": "Binary focal loss"}, {}),
    ("ResNet-18 spelled out", {"Backbone": "ResNet-18", "Loss": "Softmax"}, {}),
    ("SupCon", {"Backbone": "ResNet18", "Loss": "CE loss, SupCon"}, {}),
    ("Focal", {"Backbone": "MobileNetV2", "Loss": "Focal loss"}, {}),
    ("EfficientNetB0", {"Backbone": "EfficientNetB0", "Loss": "CE Loss"}, {}),
    ("Dual-modal, RGB only", {"Backbone": "MobileNetV3", "Loss": "Binary CE loss", "Input": "RGB"}, {}),
    ("Pseudo depth map", {"Supervision": "Pseudo depth map", "Backbone": "ResNet34"}, {}),
]

# (survey method, Quick Summary) → (the term the reason names, a suggestion the reason gives or None)
BLOCKED = [
    ("HybridCNN", {"Backbone": "VGG-Face", "Loss": "Binary CE loss"}, "VGG-Face", "vgg16"),
    ("VGG13", {"Backbone": "VGG13", "Loss": "Binary CE loss"}, "VGG13", "vgg16"),
    ("TSCNN", {"Backbone": "ResNet18", "Loss": "Binary CE loss", "Input": "RGB, MSR"}, "MSR", "rgb"),
    ("CIFL", {"Backbone": "ResNet18", "Loss": "Binary focal loss, camear type loss"}, "camear type loss", None),
    ("PatchCNN", {"Backbone": "SqueezeNet v1.1", "Loss": "Binary CE loss, Triplet loss"}, "SqueezeNet v1.1", "mobilenetv2"),
    ("TS-FEN", {"Supervision": "Depth", "Backbone": "ResNet34, FCN"}, "FCN", "unet"),
    ("AENet", {"Supervision": "Depth, Reflection", "Backbone": "ResNet18"}, "reflection", "binary"),
    ("Adversarial", {"Backbone": "ResNet18", "Loss": "Triplet loss, Adversarial loss"}, "no loss gives a live/spoof score", "bce"),
    ("Siamese", {"Backbone": "AlexNet", "Loss": "Contrastive loss"}, "no loss gives a live/spoof score", "bce"),
    ("MADDG", {"Backbone": "DepthNet", "Loss": "Binary CE & Depth loss, Multi-adversarial loss, Dual-force Triplet loss"},
     "Multi-adversarial loss", "adversarial"),
    ("MADDG triplet", {"Backbone": "DepthNet", "Loss": "Binary CE & Depth loss, Dual-force Triplet loss"}, "Dual-force Triplet loss", "triplet"),
    ("SDFANet", {"Backbone": "ResNet-18", "Loss": "BCE loss + center loss"}, "center loss", "metric_softmax"),
    ("SSAN", {"Backbone": "DepthNet/ResNet18", "Loss": "CE loss, Domain Adversarial loss, Contrastive loss"}, "DepthNet/ResNet18", "depthnet, resnet18"),
    ("sum of known losses", {"Backbone": "ResNet18", "Loss": "CE loss + Domain Adversarial loss"}, "CE loss + Domain Adversarial loss", "bce, adversarial"),
    ("ViTAF", {"Backbone": "ViT+adaptor", "Loss": "CE Loss,  Cosine loss"}, "adaptor", None),
    ("Hypersphere", {"Backbone": "ResNet18", "Loss": "Hypersphere loss", "Input": "RGB, HSV"}, "Hypersphere loss", "metric_softmax"),
    ("MCCNN", {"Backbone": "LightCNN", "Loss": "Binary CE loss, Contrastive loss"}, "LightCNN", "resnet18"),
    ("MCCNN inputs", {"Backbone": "ResNet18", "Loss": "Binary CE loss", "Input": "Grayscale, IR, Depth, Thermal"}, "input 'thermal'", "rgb"),
    ("Attention", {"Backbone": "ResNet18", "Loss": "Binary CE loss, Center loss", "Input": "RGB"}, "Center loss", "metric_softmax"),
    ("Dual-modal", {"Backbone": "MoblienetV3", "Loss": "Binary CE loss", "Input": "RGB"}, "MoblienetV3", "mobilenetv3"),
    ("MM-CDCN", {"Backbone": "CDCN", "Loss": "Pixel-wise binary loss, Contrastive depth loss", "Input": "RGB, Depth, NIR"}, "input 'depth'", "rgb"),
    ("MA-ViT", {"Backbone": "ViT-S/16", "Loss": "Binary CE Loss"}, "ViT-S/16", "vit"),
    ("Auxiliary", {"Supervision": "Depth, rPPG spectrum", "Backbone": "DepthNet", "Static/Dynamic": "D"}, "rPPG spectrum", None),
    ("TransRPPG", {"Backbone": "Vision Transformer", "Loss": "Binary CE loss", "Input": "rPPG map"}, "rPPG map", None),
    ("mmfCNN", {"Backbone": "ResNet34", "Loss": "Binary CE loss, Binary Center Loss"}, "Binary Center Loss", "metric_softmax"),
    ("LSTM-CNN", {"Backbone": "CNN+LSTM", "Loss": "Binary CE loss"}, "CNN + LSTM", "resnet18"),
    ("FAS-UCM", {"Backbone": "MobileNetV2", "Loss": "Binary CE loss, Style loss"}, "Style loss", None),
    ("PS", {"Supervision": "BinaryMask or Depth", "Backbone": "ResNet50"}, "BinaryMask or Depth", "binary_mask, depth"),
    ("FasTCo", {"Backbone": "ResNet50", "Loss": "Multi-class CE loss, Temporal Consistency loss"}, "Multi-class CE loss", "bce"),
    ("GDA", {"Backbone": "DepthNet", "Loss": "CE Loss, Depth loss, Perceptual loss"}, "Perceptual loss", None),
]


@pytest.mark.parametrize("method,summary,frontmatter", RUNNABLE, ids=[r[0] for r in RUNNABLE])
def test_survey_notes_of_standard_parts_run(catalog, make_note, method, summary, frontmatter):
    exp = resolve_note(make_note("s.md", {"Method": method, **summary}, frontmatter), catalog)
    assert exp.runnable, exp.runnable_reason
    assert exp.card.id == "composed"
    assert exp.protocol.value == ("lodo:D3" if frontmatter else "intra")


@pytest.mark.parametrize("method,summary,term,suggestion", BLOCKED, ids=[r[0] for r in BLOCKED])
def test_survey_notes_with_a_paper_specific_part_name_it_and_the_closest_known(catalog, make_note, method, summary, term, suggestion):
    exp = resolve_note(make_note("s.md", {"Method": method, **summary}), catalog)
    assert not exp.runnable
    reason = exp.runnable_reason
    assert term in reason, reason
    if suggestion is None:  # nothing buildable is close: none is made up
        return
    assert _closest_after(reason, term)[: len(suggestion.split(", "))] == suggestion.split(", "), reason


def _closest_after(reason: str, term: str) -> list[str]:
    """The ids of the first "(closest: …)" or "(closest it can build: …)" after ``term`` in the reason."""
    tail = reason[reason.index(term):]
    start = tail.index("(closest")
    return tail[tail.index(":", start) + 1: tail.index(")", start)].strip().split(", ")
