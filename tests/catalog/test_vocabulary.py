import pytest

from vaultlab.catalog.vocabulary import normalise_term, split_composite


@pytest.mark.parametrize(("text", "expected"), [
    ("MMD loss ", "mmd"),
    ("mmd-Loss", "mmd"),
    ("Binary CE loss", "binaryce"),
    ("DeepLabv3+", "deeplabv3plus"),
    ("Metric-Softmax Loss", "metricsoftmax"),
    ("ＲｅｓＮｅｔ５０", "resnet50"),  # full-width forms fold under NFKC
    ("Loss", "loss"),  # a lone "loss" is the term itself, not a suffix
])
def test_normalise_term(text, expected):
    assert normalise_term(text) == expected


def test_split_composite_keeps_trailing_plus():
    assert split_composite("DepthNet+UNet") == ["DepthNet", "UNet"]
    assert split_composite("DeepLabv3+") == ["DeepLabv3+"]


@pytest.mark.parametrize(("category", "text", "canonical"), [
    ("losses", "MMD loss ", "mmd"),
    ("losses", "Binary CE loss", "bce"),
    ("losses", "CE loss", "bce"),
    ("losses", "Triplet focal loss", "triplet_focal"),
    ("losses", "Metric-Softmax Loss", "metric_softmax"),
    ("losses", "Depth loss", "depth_mse"),
    ("losses", "Segmentation loss", "segmentation_ce"),
    ("losses", "Paired Similarity", "paired_similarity"),
    ("backbones", "DeepLabv3+", "deeplabv3plus"),
    ("backbones", "ResNet50", "resnet50"),
    ("backbones", "DepthNet+UNet", "depthnet+unet"),
    ("backbones", "ResNet18 + UNet", "resnet18+unet"),  # any composite of known parts
    ("inputs", "RGB", "rgb"),
    ("supervision", "Depth", "depth"),
    ("temporal", "S", "static"),
])
def test_lookup_maps_note_spellings(catalog, category, text, canonical):
    assert catalog.vocabulary.lookup(category, text).canonical == canonical


def test_unknown_term_gets_closest_known_ids(catalog):
    found = catalog.vocabulary.lookup("backbones", "ResNt-50")
    assert found.canonical is None
    assert found.suggestions[0] == "resnet50"


def test_unknown_part_of_a_composite_is_named(catalog):
    found = catalog.vocabulary.lookup("backbones", "ResNet18+Transformr")
    assert found.canonical is None and found.unknown == "Transformr"


def test_suggestion_from_another_category_says_which(catalog):
    assert catalog.vocabulary.suggest("inputs", "Paired similarity") == ["paired_similarity (losses)"]


def test_every_card_component_is_in_the_vocabulary(catalog):
    for card in catalog.cards.values():
        assert catalog.vocabulary.knows("backbones", card.components["backbone"])
        assert all(catalog.vocabulary.knows("losses", loss) for loss in card.components["losses"])


def test_related_spellings_are_suggested_never_mapped():
    from vaultlab.catalog.vocabulary import vocabulary_from_yaml
    from vaultlab.catalog.yamlfile import YamlFileError, load_yaml_text

    shipped = vocabulary_from_yaml(load_yaml_text("losses:\n  metric_softmax:\n    related: [Center loss]\n  bce:\n    aliases: [CE]\n"))
    vault = vocabulary_from_yaml(load_yaml_text("losses:\n  metric_softmax:\n    related: [Hypersphere loss]\n"))
    merged = shipped.merged_with(vault)
    for text in ("Center loss", "Binary center loss", "Hypersphere loss"):
        found = merged.lookup("losses", text)
        assert found.canonical is None and found.suggestions[0] == "metric_softmax", text
    assert merged.lookup("losses", "CE + Center loss").unknown == "Center loss"
    with pytest.raises(YamlFileError, match=r"losses.bce.related: expected a list of strings") as info:
        vocabulary_from_yaml(load_yaml_text("losses:\n  bce:\n    related: CE\n"))
    assert info.value.line == 3


def test_a_sum_of_known_losses_is_not_one_loss(catalog):
    found = catalog.vocabulary.lookup("losses", "BCE loss + Triplet loss")
    assert found.canonical is None and found.suggestions == ("bce", "triplet")
    assert catalog.vocabulary.lookup("backbones", "ResNet18 + UNet").canonical == "resnet18+unet"


def test_alternatives_suggest_their_parts_in_order(catalog):
    assert catalog.vocabulary.suggest("backbones", "DepthNet/ResNet18") == ["depthnet", "resnet18"]
    assert catalog.vocabulary.suggest("supervision", "BinaryMask or Depth") == ["binary_mask", "depth"]
