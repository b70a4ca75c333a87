"""Notes that match no card are composed from registered components, or say exactly what blocks them."""

from __future__ import annotations

import pytest

from vaultlab import registry
from vaultlab.catalog import OverrideError, load_catalog, resolve_note
from vaultlab.catalog.cards import card_from_yaml
from vaultlab.catalog.yamlfile import YamlData


@pytest.mark.parametrize("summary,backbone,losses", [
    ({"Backbone": "ViT", "Loss": "Binary CE loss"}, "vit", {"bce": 1.0}),
    ({"Backbone": "VGG-16", "Loss": "Softmax"}, "vgg16", {"bce": 1.0}),
    ({"Backbone": "CDCN", "Loss": "Depth loss, Contrastive depth loss"}, "cdcn", {"depth_mse": 1.0, "contrastive_depth": 1.0}),
    ({"Backbone": "ResNet18", "Loss": "CE loss, Asymmetric triplet loss, Single-side adversarial loss"}, "resnet18",
     {"bce": 1.0, "asymmetric_triplet": 1.0, "single_side_adversarial": 1.0}),
])
def test_survey_notes_of_standard_parts_are_composed_and_runnable(catalog, make_note, summary, backbone, losses):
    exp = resolve_note(make_note("020_x.md", summary), catalog)
    assert exp.runnable, exp.runnable_reason
    assert exp.card.id == "composed" and exp.matched_by == "composition" and exp.recipe == "composed"
    assert exp.components["backbone"].value == backbone and exp.components["losses"].value == losses
    assert exp.id == "020_x" and exp.protocol.value == "intra"
    whats = {a.what for a in exp.assumptions}
    assert {"method", "backbone", "heads", "score", "protocol", "Baseline column", "loss weights"} <= whats
    assert all(f"loss {loss} (weight 1)" in whats for loss in losses)


def test_scoring_head_follows_the_losses(catalog, make_note):
    depth = resolve_note(make_note("a.md", {"Backbone": "CDCN", "Loss": "Depth loss"}), catalog)
    assert next(a.choice for a in depth.assumptions if a.what == "score") == "mean of the predicted depth map"
    pixel = resolve_note(make_note("b.md", {"Backbone": "DenseNet-161", "Loss": "Pixel-wise binary loss"}), catalog)
    assert "pixel-wise" in next(a.choice for a in pixel.assumptions if a.what == "score")


def test_domain_generalisation_by_tag_or_approach_runs_leave_one_domain_out(catalog, make_note):
    tagged = make_note("a.md", {"Backbone": "ResNet18", "Loss": "CE loss"}, {"tags": ["paper", "domain-generalization"]})
    approach = make_note("b.md", {"Backbone": "ResNet18", "Loss": "CE loss", "Approach": "Domain Generalisation, meta-learning"})
    for note in (tagged, approach):
        exp = resolve_note(note, catalog)
        assert exp.protocol.value == "lodo:D3" and "domain generalisation" in exp.protocol.detail


def test_unknown_term_blocks_and_suggests(catalog, make_note):
    exp = resolve_note(make_note("a.md", {"Backbone": "ResNet-101", "Loss": "CE loss"}), catalog)
    assert not exp.runnable and "'ResNet-101' (closest: resnet" in exp.runnable_reason


def test_known_but_unbuildable_terms_block_and_name_what_can_be_built(catalog, make_note):
    kd = resolve_note(make_note("a.md", {"Backbone": "ResNet18", "Loss": "KD loss"}), catalog)
    assert not kd.runnable and "losses 'kd'" in kd.runnable_reason
    psp = resolve_note(make_note("b.md", {"Backbone": "PSPNet", "Loss": "CE loss"}), catalog)
    assert not psp.runnable and "backbone 'pspnet'" in psp.runnable_reason
    assert [b.component for b in psp.blockers] == ["backbone"]
    only_metric = resolve_note(make_note("c.md", {"Backbone": "ResNet18", "Loss": "Triplet loss"}), catalog)
    assert not only_metric.runnable and "no loss gives a live/spoof score" in only_metric.runnable_reason
    reflection = resolve_note(make_note("d.md", {"Backbone": "ResNet18", "Loss": "CE loss", "Supervision": "Reflection map"}), catalog)
    assert not reflection.runnable and "supervision 'reflection'" in reflection.runnable_reason


def test_note_supervision_adds_the_loss_it_needs(catalog, make_note):
    exp = resolve_note(make_note("a.md", {"Backbone": "ResNet18", "Loss": "CE loss", "Supervision": "Binary, Depth map"}), catalog)
    assert exp.runnable and exp.components["losses"].value == {"bce": 1.0, "depth_mse": 1.0}
    assert any(a.what == "loss depth_mse" and "supervision 'depth'" in a.choice for a in exp.assumptions)


def test_without_leaves_a_term_out_and_says_so(catalog, make_note):
    note = make_note("a.md", {"Backbone": "ResNet18", "Loss": "CE loss, rPPG loss"})
    assert not resolve_note(note, catalog).runnable
    exp = resolve_note(note, catalog, without=["rppg"])
    assert exp.runnable and exp.components["losses"].value == {"bce": 1.0}
    assert any("'rPPG loss'" in a.what and "--without" in a.choice for a in exp.assumptions)
    with pytest.raises(OverrideError, match="names no such term"):
        resolve_note(note, catalog, without=["Wasserstein loss"])


def test_a_baseline_note_with_an_unbuildable_backbone_is_not_runnable(catalog, make_note):
    assert resolve_note(make_note("a.md", {"Method": "Baseline", "Backbone": "ResNet-34"}), catalog).runnable
    unet = resolve_note(make_note("b.md", {"Method": "Baseline", "Backbone": "U-Net"}), catalog)
    assert not unet.runnable and "backbone 'unet'" in unet.runnable_reason


def test_a_paper_recipe_runs_only_its_cards_backbones(catalog, make_note):
    exp = resolve_note(make_note("a.md", {"Method": "DepthSeg", "Backbone": "VGG-16"}), catalog)
    assert not exp.runnable and "recipe 'depthseg' trains only pspnet" in exp.runnable_reason


def test_the_card_losses_a_note_or_set_leaves_out_weigh_zero(catalog, make_note):
    note = make_note("a.md", {"Method": "OneSideTriplet", "Loss": "CE loss, Triplet loss"})
    exp = resolve_note(note, catalog)
    assert exp.components["losses"].value == {"bce": 1.0, "triplet": 1.0, "depth_mse": 0.0, "segmentation_ce": 0.0}
    exp = resolve_note(make_note("b.md", {"Method": "OneSideTriplet"}), catalog, cli_overrides={"losses": ["Depth loss"]})
    assert exp.components["losses"].value == {"depth_mse": 10.0, "bce": 0.0, "triplet": 0.0, "segmentation_ce": 0.0}


def test_a_note_naming_nothing_is_not_composed(catalog, make_note):
    exp = resolve_note(make_note("a.md", {"Method": "Quantum PAD"}), catalog)
    assert exp.card is None and not exp.runnable and "no backbone or loss" in exp.runnable_reason


def test_set_of_a_key_no_recipe_reads_is_an_error_naming_close_keys(catalog, make_note):
    note = make_note("a.md", {"Backbone": "ResNet18", "Loss": "CE loss"})
    with pytest.raises(OverrideError, match="metric_dim"):
        resolve_note(note, catalog, cli_overrides={"metric_dims": 64})
    exp = resolve_note(note, catalog, cli_overrides={"metric_dim": 64, "quick.grl_lambda": 2})
    assert exp.hparams["quick"]["metric_dim"].value == 64 and exp.hparams["quick"]["grl_lambda"].value == 2.0
    with pytest.raises(OverrideError, match="whole number"):
        resolve_note(note, catalog, cli_overrides={"metric_dim": 1.5})


def test_a_card_profile_key_its_recipe_does_not_read_is_refused(catalog):
    doc = YamlData({"id": "mine", "title": "Mine", "recipe": "baseline", "components": {"backbone": "resnet18", "losses": {"bce": 1.0}},
                    "default_protocol": "intra", "profiles": {"quick": {"epochs": 1, "mmd_layer": "penultimate"}}}, {})
    card, problems = card_from_yaml(doc, catalog.vocabulary, "mine.yaml")
    assert card is None and "reads no hyper-parameter 'mmd_layer'" in problems[0].message
    doc.data["profiles"]["quick"] = {"epochs": "two"}
    card, problems = card_from_yaml(doc, catalog.vocabulary, "mine.yaml")
    assert card is None and "expects int" in problems[0].message


def test_every_card_has_a_smoke_profile_that_starts_from_quick(catalog):
    for card in catalog.cards.values():
        assert "smoke" in card.profiles, card.id
        assert set(card.profiles["quick"]) <= set(card.profiles["smoke"]), card.id
        assert card.profiles["smoke"]["synthfas_subjects"] <= 12


def test_adding_a_method_needs_only_its_module_and_card(catalog, make_note):
    """CDCN came as methods/cdcn.yaml + recipes/cdcn.py (the network is nn/cdcn.py): both found, no list edited."""
    assert registry.known("recipe", "cdcn") and "cdcn" in load_catalog().cards
    exp = resolve_note(make_note("a.md", {"Method": "CDCN"}), catalog)
    assert exp.card.id == "cdcn" and exp.runnable


def test_an_unknown_protocol_blocks_with_the_closest_names(catalog, make_note):
    exp = resolve_note(make_note("a.md", {"Backbone": "ResNet18", "Loss": "CE loss", "Protocol": "lodoo:D1"}), catalog)
    assert not exp.runnable and "protocol 'lodoo:D1'" in exp.runnable_reason and "lodo" in exp.runnable_reason


def test_a_non_rgb_input_blocks_until_set_to_rgb_and_dynamic_is_said(catalog, make_note):
    note = make_note("a.md", {"Backbone": "ResNet18", "Loss": "CE loss", "Input": "RGB & HSV", "Static/Dynamic": "D"})
    exp = resolve_note(note, catalog)
    assert not exp.runnable and "input 'hsv'" in exp.runnable_reason and "--set input=rgb" in exp.runnable_reason
    exp = resolve_note(note, catalog, cli_overrides={"input": "RGB"})
    assert exp.runnable and any(a.what == "temporal" for a in exp.assumptions)


def test_a_list_written_with_and_is_split_and_a_bracketed_qualifier_is_named_not_acted_on(catalog, make_note):
    """Survey notes write "CE loss and triplet loss" and "ResNet-50 (ImageNet pre-trained)"."""
    exp = resolve_note(make_note("021_x.md", {"Backbone": "ResNet-50 (ImageNet, pre-trained)",
                                              "Loss": "Cross-entropy loss and triplet loss"}), catalog)
    assert exp.runnable, exp.runnable_reason
    assert exp.components["backbone"].value == "resnet50"
    assert exp.components["losses"].value == {"bce": 1.0, "triplet": 1.0}
    qualified = [a for a in exp.assumptions if "ImageNet" in a.what]
    assert len(qualified) == 1 and "not acted on" in qualified[0].choice and "--pretrained" in qualified[0].provenance
    # a qualifier on an unknown term still blocks, naming the whole term
    blocked = resolve_note(make_note("022_x.md", {"Backbone": "Swin Transformer (tiny)", "Loss": "CE loss"}), catalog)
    assert not blocked.runnable and "Swin Transformer (tiny)" in blocked.runnable_reason


def test_a_note_of_bce_alone_is_its_own_baseline(catalog, make_note):
    bce = resolve_note(make_note("a.md", {"Backbone": "VGG16", "Loss": "Binary CE loss"}), catalog)
    assert next(a.choice for a in bce.assumptions if a.what == "Baseline column").startswith("none: the note's method is vgg16 + BCE alone")
    more = resolve_note(make_note("b.md", {"Backbone": "VGG16", "Loss": "Binary CE loss, Triplet loss"}), catalog)
    assert next(a.choice for a in more.assumptions if a.what == "Baseline column") == "vgg16 + BCE alone, same data and schedule"
