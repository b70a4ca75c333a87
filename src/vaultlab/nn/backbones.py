"""Backbone registry, keyed by the canonical ids of ``methods/vocabulary.yaml``.

``build_backbone(name, **options)`` is the only way in. A backbone maps images [B,3,H,W] to feature
vectors [B,D] and exposes ``out_features = D``. Every network is built with ``weights=None``: nothing
is downloaded; ``load_pretrained`` loads local weights when the user configures them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register_backbone(name: str):
    def deco(fn):
        _REGISTRY[name] = fn
        return fn

    return deco


def known_backbones() -> list[str]:
    return sorted(_REGISTRY)


def build_backbone(name: str, **options) -> nn.Module:
    if name not in _REGISTRY:
        import difflib

        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        raise ValueError(f"unknown backbone {name!r}; known: {', '.join(known_backbones())}"
                         + (f" (did you mean {', '.join(close)}?)" if close else ""))
    return _REGISTRY[name](**{k: v for k, v in options.items() if v is not None})


class _TorchvisionResNet(nn.Module):
    def __init__(self, arch: str):
        super().__init__()
        import torchvision

        net = getattr(torchvision.models, arch)(weights=None)
        self.out_features = net.fc.in_features
        net.fc = nn.Identity()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@register_backbone("resnet18")
def resnet18() -> nn.Module:
    return _TorchvisionResNet("resnet18")


@register_backbone("resnet50")
def resnet50() -> nn.Module:
    return _TorchvisionResNet("resnet50")


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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.features(x)))


@register_backbone("alexnet")
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
        for candidate in (key, key.removeprefix("module."), f"net.{key}", f"backbone.{key}", f"backbone.net.{key}"):
            if candidate in own and own[candidate].shape == tensor.shape:
                own[candidate] = tensor
                loaded.append(candidate)
                break
    if not loaded:
        raise ValueError(f"--pretrained {path}: no tensor matches the model by name and shape")
    module.load_state_dict(own)
    return loaded
