"""Backbones, keyed by the canonical ids of ``methods/vocabulary.yaml``.

``build_backbone(name, **options)`` is the only way in (``vaultlab.registry`` finds the builder). A
backbone maps images [B,3,H,W] to

- a pooled embedding [B,D] (``forward``; ``out_features = D``), and
- through ``encode(x) → (feature map, embedding)`` in one pass, the feature map [B,C,h,w] that dense
  heads (depth, pixel-wise binary, parsing) read (``map_channels = C``).

Most come from timm with ``features_only=True``: the dense map is the deepest stage whose stride is
at most 16 (DeepPixBiS reads a 14×14 map at 224 px), the embedding is the global average of the last
stage. AlexNet comes from torchvision (timm has none). Every network is built without weights:
nothing is downloaded; ``load_pretrained`` loads local weights (``--pretrained PATH``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from vaultlab import registry
from vaultlab.registry import register_backbone

__all__ = ["AlexNetFeatures", "Classifier", "TimmBackbone", "build_backbone", "encode", "known_backbones", "load_pretrained", "register_backbone"]


def known_backbones() -> list[str]:
    return registry.names("backbone")


def build_backbone(name: str, **options) -> nn.Module:
    """Build a registered backbone; an unknown name raises ``ValueError`` naming the closest ids."""
    try:
        return registry.create("backbone", name, **options)
    except registry.UnknownComponent as exc:
        raise ValueError(str(exc)) from None


def encode(backbone: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(feature map [B,C,h,w], embedding [B,D]) in one pass, for any registered backbone."""
    if hasattr(backbone, "encode"):
        return backbone.encode(x)
    raise TypeError(f"{type(backbone).__name__} gives no feature map (only an embedding)")


def map_channels(backbone: nn.Module) -> int:
    if hasattr(backbone, "map_channels"):
        return int(backbone.map_channels)
    raise TypeError(f"{type(backbone).__name__} gives no feature map (only an embedding)")


class TimmBackbone(nn.Module):
    """A timm network with ``features_only=True`` behind the backbone interface (map + embedding)."""

    def __init__(self, arch: str, **timm_options):
        super().__init__()
        import timm

        self.net = timm.create_model(arch, pretrained=False, features_only=True, **timm_options)
        info = self.net.feature_info
        strides, channels = info.reduction(), info.channels()
        self.dense_index = max(i for i, s in enumerate(strides) if s <= 16) if min(strides) <= 16 else 0
        self.map_channels = channels[self.dense_index]
        self.map_stride = strides[self.dense_index]
        self.out_features = channels[-1]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        maps = self.net(x)
        return maps[self.dense_index], maps[-1].mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)[-1].mean(dim=(2, 3))


# ResNets: ``zero_init_last=False`` keeps torchvision's initialisation, so a seed gives the same
# weights (and numbers) as the torchvision networks vaultlab used before; timm zeroes each block's last BN.
@register_backbone("resnet18")
def resnet18() -> nn.Module:
    return TimmBackbone("resnet18", zero_init_last=False)


@register_backbone("resnet10t")
def resnet10t() -> nn.Module:
    """timm's ResNet-10-T: one basic block per stage, a three-conv stem and average-pool shortcuts; about
    half ResNet-18's CPU time per image at 64 px (the anomaly and depthseg cards' quick profiles)."""
    return TimmBackbone("resnet10t", zero_init_last=False)


@register_backbone("resnet34")
def resnet34() -> nn.Module:
    return TimmBackbone("resnet34", zero_init_last=False)


@register_backbone("resnet50")
def resnet50() -> nn.Module:
    return TimmBackbone("resnet50", zero_init_last=False)


@register_backbone("vgg16")
def vgg16() -> nn.Module:
    """VGG-16's 13 convolutions (timm ``vgg16``); the 4096-wide FC layers are replaced by global pooling."""
    return TimmBackbone("vgg16")


@register_backbone("vgg11")
def vgg11() -> nn.Module:
    """VGG-11 (configuration A, timm ``vgg11``): CNN2 and LiveNet's backbone in the Deep-FAS survey."""
    return TimmBackbone("vgg11")


@register_backbone("vgg19")
def vgg19() -> nn.Module:
    """VGG-19 (configuration E, timm ``vgg19``)."""
    return TimmBackbone("vgg19")


@register_backbone("densenet121")
def densenet121() -> nn.Module:
    return TimmBackbone("densenet121")


@register_backbone("densenet161")
def densenet161() -> nn.Module:
    """DenseNet-161: DeepPixBiS's backbone (George & Marcel 2019)."""
    return TimmBackbone("densenet161")


@register_backbone("mobilenetv2")
def mobilenetv2() -> nn.Module:
    return TimmBackbone("mobilenetv2_100")


@register_backbone("mobilenetv3")
def mobilenetv3() -> nn.Module:
    """MobileNetV3-Large (width 1.0)."""
    return TimmBackbone("mobilenetv3_large_100")


@register_backbone("efficientnet_b0")
def efficientnet_b0() -> nn.Module:
    return TimmBackbone("efficientnet_b0")


@register_backbone("vit")
def vit(depth: int = 12) -> nn.Module:
    """ViT-B/16 (timm ``vit_base_patch16_224``) at any input size that is a multiple of 16
    (``dynamic_img_size``: the position embeddings are interpolated, the small-input setting for CPU);
    ``depth`` < 12 keeps only the first blocks (a CPU-sized cut, stated in the run's assumptions)."""
    return TimmBackbone("vit_base_patch16_224", dynamic_img_size=True, depth=int(depth), out_indices=1)  # the last block's tokens as a map


class AlexNetFeatures(nn.Module):
    """torchvision AlexNet. ``head="stock"`` keeps its 9216→4096→4096 FC stack (fc6, fc7: the paper's
    network); ``head="slim"`` replaces it with global average pooling + one 512-unit FC layer, ~20× less
    compute at 64 px where the stock head dominates (synthfas-prototype.md §4)."""

    def __init__(self, head: str = "stock", width: float = 1.0, fc_dim: int = 512):
        super().__init__()
        import torchvision

        if head not in ("stock", "slim"):
            raise ValueError(f"alexnet head must be 'stock' or 'slim', not {head!r}")
        if width == 1.0:
            net = torchvision.models.alexnet(weights=None)
            self.features = net.features
            channels = 256
        else:  # same shape as AlexNet's convolutions, fewer channels: the scarce-data student
            c = [max(8, int(round(w * width))) for w in (64, 192, 384, 256, 256)]
            self.features = nn.Sequential(
                nn.Conv2d(3, c[0], 11, stride=4, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
                nn.Conv2d(c[0], c[1], 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
                nn.Conv2d(c[1], c[2], 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(c[2], c[3], 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(c[3], c[4], 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, ceil_mode=True))
            channels = c[4]
        if head == "stock":
            self.pool = nn.AdaptiveAvgPool2d((6, 6))
            self.fc = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), nn.Linear(channels * 36, 4096), nn.ReLU(inplace=True),
                                    nn.Dropout(0.5), nn.Linear(4096, 4096), nn.ReLU(inplace=True))
            self.out_features = 4096
        else:
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Sequential(nn.Flatten(), nn.Linear(channels, fc_dim), nn.ReLU(inplace=True))
            self.out_features = fc_dim
        self.map_channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.features(x)))


    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        maps = self.features(x)
        return maps, self.fc(self.pool(maps))


@register_backbone("alexnet", min_input=64)  # three 3×3/2 max-pools after a stride-4 conv
def alexnet(head: str = "stock", width: float = 1.0, fc_dim: int = 512) -> nn.Module:
    return AlexNetFeatures(head=head, width=width, fc_dim=fc_dim)


class Classifier(nn.Module):
    """Backbone + one linear layer giving a single logit (bona fide)."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(backbone.out_features, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x)).squeeze(1)


def _checkpoint_names(key: str):
    """Where a checkpoint tensor (torchvision / timm naming) may live in our modules: under a wrapper
    (``net.``, ``backbone.``, timm's ``model.`` for ViT) and, for timm's ``features_only`` networks,
    with the leading module path flattened (``features.0.weight`` → ``features_0.weight``)."""
    bare = key.removeprefix("module.")
    yield key
    parts = bare.split(".")
    flattened = ["_".join(parts[:k + 1]) + "." + ".".join(parts[k + 1:]) for k in (1, 2) if len(parts) > k + 1]
    for prefix in ("", "net.", "backbone.", "backbone.net.", "net.model.", "backbone.net.model."):
        yield prefix + bare
        for name in flattened:
            yield prefix + name


def load_pretrained(module: nn.Module, path: str | Path) -> list[str]:
    """Load local weights into ``module`` where names and shapes match; returns what was loaded.

    A state dict whose tensors match nothing raises: silently training from scratch while the result
    note says "pretrained" would be a lie.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"--pretrained {path}: no such file")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    own = module.state_dict()
    loaded = []
    for key, tensor in state.items():
        for candidate in _checkpoint_names(key):
            if candidate in own and own[candidate].shape == tensor.shape:
                own[candidate] = tensor
                loaded.append(candidate)
                break
    if not loaded:
        raise ValueError(f"--pretrained {path}: no tensor matches the model by name and shape")
    module.load_state_dict(own)
    return loaded
