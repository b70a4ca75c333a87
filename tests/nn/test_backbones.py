import pytest
import torch

from vaultlab.nn.backbones import Classifier, build_backbone, load_pretrained


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
