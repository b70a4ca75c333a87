import pytest
import torch

from vaultlab.nn.backbones import Classifier, build_backbone, known_backbones, load_pretrained


def test_unknown_backbone_names_close_matches():
    with pytest.raises(ValueError, match="resnet18"):
        build_backbone("resnet-18")


@pytest.mark.parametrize("name,options", [("resnet18", {}), ("alexnet", {"head": "slim", "width": 0.25, "fc_dim": 16})])
def test_backbones_give_feature_vectors(name, options):
    net = build_backbone(name, **options)
    assert net(torch.zeros(2, 3, 64, 64)).shape == (2, net.out_features)


def test_pretrained_weights_load_by_name_and_shape(tmp_path):
    torch.manual_seed(0)
    source = Classifier(build_backbone("alexnet", head="slim", width=0.25, fc_dim=16))
    path = tmp_path / "w.pt"
    torch.save({"state_dict": source.state_dict()}, path)
    target = Classifier(build_backbone("alexnet", head="slim", width=0.25, fc_dim=16))
    loaded = load_pretrained(target, path)
    assert len(loaded) == len(source.state_dict())
    for (k, a), b in zip(source.state_dict().items(), target.state_dict().values()):
        assert torch.equal(a, b), k


def test_weights_that_match_nothing_are_refused(tmp_path):
    path = tmp_path / "w.pt"
    torch.save({"unrelated.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(ValueError, match="no tensor matches"):
        load_pretrained(Classifier(build_backbone("alexnet", head="slim", width=0.25, fc_dim=16)), path)
    with pytest.raises(FileNotFoundError):
        load_pretrained(Classifier(build_backbone("resnet18")), tmp_path / "missing.pt")


# tiny settings: every registered backbone builds and runs on CPU in a few seconds
_TINY = {"vit": {"depth": 1}, "alexnet": {"head": "slim", "width": 0.25, "fc_dim": 16}, "depthnet": {"width": 0.125},
         "cdcn": {"width": 0.125, "depth_size": 8}}


@pytest.mark.parametrize("name", [n for n in known_backbones() if n != "smp_encoder"])
def test_every_registered_backbone_gives_a_map_and_an_embedding(name):
    from vaultlab.nn.backbones import encode, map_channels

    torch.manual_seed(0)
    net = build_backbone(name, **_TINY.get(name, {})).eval()
    x = torch.randn(2, 3, 64 if name == "alexnet" else 32, 64 if name == "alexnet" else 32)  # AlexNet's pools need 64 px
    with torch.no_grad():
        feature_map, embedding = encode(net, x)
        assert torch.equal(net(x), embedding)
    assert embedding.shape == (2, net.out_features)
    assert feature_map.dim() == 4 and feature_map.shape[:2] == (2, map_channels(net))


def test_torchvision_resnet_weights_load_into_the_timm_resnet(tmp_path):
    """--pretrained with a torchvision checkpoint: timm's ResNet uses torchvision's tensor names."""
    import torchvision

    source = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)
    model = Classifier(build_backbone("resnet18"))
    loaded = load_pretrained(model, path)
    backbone_tensors = [k for k in source.state_dict() if not k.startswith("fc.")]
    assert len(loaded) == len(backbone_tensors)
    assert torch.equal(model.state_dict()["backbone.net.conv1.weight"], source.state_dict()["conv1.weight"])


def test_resnet_initialises_as_torchvision_does():
    """Same seed, same weights and same embedding as torchvision's ResNet-18 (numbers of earlier runs stay)."""
    import torchvision

    torch.manual_seed(0)
    reference = torchvision.models.resnet18(weights=None).eval()
    reference.fc = torch.nn.Identity()
    torch.manual_seed(0)
    ours = build_backbone("resnet18").eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(ours(x), reference(x), atol=1e-5)


def test_torchvision_densenet_and_vgg_weights_load_into_timm_feature_networks(tmp_path):
    """timm's features_only flattens the leading module path; --pretrained still finds every conv tensor."""
    import torchvision

    for name, arch in (("densenet121", "densenet121"), ("vgg16", "vgg16")):
        source = getattr(torchvision.models, arch)(weights=None).features.state_dict()
        path = tmp_path / f"{name}.pth"
        torch.save({f"features.{k}": v for k, v in source.items()}, path)
        loaded = load_pretrained(Classifier(build_backbone(name)), path)
        assert len(loaded) == len(source), name
