import pytest

from vaultlab.catalog import OverrideError, resolve_note, resolve_vault
from vaultlab import registry

SEED_IDS = {
    "000_6f73c2b86093280e.md": ("000_anomaly", "anomaly"),
    "001_f9e3f98b3f0cbdfd.md": ("001_anomaly", "anomaly"),
    "002_9461fd4987bb22b6.md": ("002_onesidetriplet", "onesidetriplet"),
    "003_2b75969d89ee11c2.md": ("003_distillation", "distillation"),
    "004_053d692f67b8931a.md": ("004_depthseg", "depthseg"),
}


def test_seed_notes_map_to_their_cards(seed_experiments):
    assert {e.note_relpath: (e.id, e.card.id) for e in seed_experiments} == SEED_IDS
    assert all(e.unmapped == [] for e in seed_experiments)


def test_seed_components_come_from_the_notes(seed_experiments):
    by_id = {e.id: e for e in seed_experiments}
    distillation = by_id["003_distillation"].components
    assert distillation["backbone"].value == "alexnet" and distillation["backbone"].source == "note"
    assert set(distillation["losses"].value) == {"bce", "mmd", "paired_similarity"}
    assert by_id["002_onesidetriplet"].components["backbone"].value == "depthnet+unet"
    assert by_id["002_onesidetriplet"].variants == []  # "A+B" is one network, not two variants
    assert by_id["001_anomaly"].components["losses"].value == {"metric_softmax": 1.0, "triplet_focal": 0.1}


def test_depthseg_comma_names_two_variants(seed_experiments):
    depthseg = next(e for e in seed_experiments if e.id == "004_depthseg")
    assert depthseg.variants == ["pspnet", "deeplabv3plus"]
    assert depthseg.component_values("deeplabv3plus")["backbone"] == "deeplabv3plus"
    assert depthseg.protocol.value == "intra"


def test_duplicate_paper_warns_on_both_notes(seed_experiments):
    by_id = {e.id: e for e in seed_experiments}
    assert by_id["000_anomaly"].duplicates == ["001_anomaly"]
    assert by_id["001_anomaly"].duplicates == ["000_anomaly"]
    warning = next(d for d in by_id["000_anomaly"].diagnostics if "same paper" in d.message)
    assert warning.path == "000_6f73c2b86093280e.md" and warning.line == 7  # the paper_url line
    assert by_id["003_distillation"].duplicates == []


def test_runnable_is_computed_from_the_recipe_registry(seed_notes, catalog, monkeypatch):
    manifest = registry.manifest()
    recipes = {name: entry for name, entry in manifest["recipe"].items() if name != "distillation"}
    monkeypatch.setattr(registry, "manifest", lambda: {**manifest, "recipe": recipes})
    by_id = {e.id: e for e in resolve_vault(seed_notes, catalog, {})}
    assert by_id["004_depthseg"].runnable
    assert not by_id["003_distillation"].runnable
    assert "recipe 'distillation' is not implemented" in by_id["003_distillation"].runnable_reason


def test_identifier_beats_method_name(catalog, make_note):
    note = make_note("x.md", {"Method": "Distillation"}, {"paper_url": "https://arxiv.org/pdf/2211.15955v2"})
    exp = resolve_note(note, catalog)
    assert exp.card.id == "onesidetriplet" and exp.matched_by == "arxiv"
    assert any("names card 'distillation'" in d.message for d in exp.diagnostics)
    assert exp.id == "onesidetriplet"  # no leading digits: the card id alone


def test_sources_note_card_config_cli(catalog, make_note):
    note = make_note("007_x.md", {"Method": "Deep Anomaly Detection", "Backbone": "ResNet-18"})
    settings = {"overrides": {"lr": 0.01, "teacher_lr": 0.5},  # teacher_lr belongs to another card: skipped
                "experiments": {"007_anomaly": {"paper.epochs": 3}}}
    exp = resolve_note(note, catalog, settings, {"quick.lr": 0.002, "losses.triplet_focal": 0.5})
    assert (exp.components["backbone"].value, exp.components["backbone"].source) == ("resnet18", "note")
    assert exp.components["input"].source == "card"
    assert exp.hparams["quick"]["tf_sigma"].source == "card"
    assert (exp.hparams["paper"]["lr"].value, exp.hparams["paper"]["lr"].source) == (0.01, "config")
    assert (exp.hparams["paper"]["epochs"].value, exp.hparams["paper"]["epochs"].source) == (3, "config")
    assert (exp.hparams["quick"]["lr"].value, exp.hparams["quick"]["lr"].source) == (0.002, "cli")
    assert exp.components["losses"].source == "cli"
    assert exp.components["losses"].value == {"metric_softmax": 1.0, "triplet_focal": 0.5}
    assert exp.value_sources("quick")["lr"] == "cli"
    assert "teacher_lr" not in exp.hparams["quick"]
    assert exp.diagnostics == []


def test_cli_component_override_goes_through_the_vocabulary(catalog, make_note):
    exp = resolve_note(make_note("004_y.md", {"Method": "DepthSeg", "Backbone": "PSPNet, DeepLabv3+"}), catalog,
                       cli_overrides={"backbone": "DeepLab v3+", "protocol": "lodo:D1"})
    assert exp.components["backbone"].value == "deeplabv3plus" and exp.components["backbone"].source == "cli"
    assert exp.variants == []  # a fixed backbone replaces the note's alternatives
    assert (exp.protocol.value, exp.protocol.source) == ("lodo:D1", "cli")


def test_unknown_cli_key_is_an_error_with_close_keys(catalog, make_note):
    note = make_note("003_z.md", {"Method": "Distillation"})
    with pytest.raises(OverrideError, match="student_lr"):
        resolve_note(note, catalog, cli_overrides={"studnet_lr": 1e-3})
    with pytest.raises(OverrideError, match="expects a number"):
        resolve_note(note, catalog, cli_overrides={"student_lr": "fast"})


def test_unknown_config_key_is_a_warning(catalog, make_note):
    exp = resolve_note(make_note("003_z.md", {"Method": "Distillation"}), catalog,
                       {"experiments": {"distillation": {"lamda1": 2}}})
    assert [d.severity for d in exp.diagnostics] == ["warning"]
    assert "lamda1" in exp.diagnostics[0].message


def test_unmapped_term_blocks_running_and_suggests(catalog, make_note):
    note = make_note("005_w.md", {"Method": "Distillation", "Backbone": "AlexNett", "Loss": "BCE, Wasserstein loss"})
    exp = resolve_note(note, catalog)
    assert [(t.term, t.line) for t in exp.unmapped] == [("AlexNett", 16), ("Wasserstein loss", 17)]
    assert exp.unmapped[0].suggestions[0] == "alexnet"
    assert not exp.runnable and "AlexNett" in exp.runnable_reason
    assert exp.components["backbone"].value == "alexnet" and exp.components["backbone"].source == "card"
    fixed = resolve_note(note, catalog, cli_overrides={"backbone": "alexnet", "losses": ["bce"]})
    assert fixed.runnable


def test_note_without_card(catalog, make_note):
    exp = resolve_note(make_note("010_q.md", {"Method": "Quantum PAD"}), catalog)
    assert exp.card is None and exp.id == "010_quantum_pad" and not exp.runnable
    assert "no method card" in exp.runnable_reason


def test_id_collisions_get_a_deterministic_suffix(catalog, make_note):
    notes = [make_note(f"{name}.md", {"Method": "DepthSeg"}) for name in ("b", "a", "c")]
    ids = {e.note_relpath: e.id for e in resolve_vault(notes, catalog)}
    assert ids == {"a.md": "depthseg", "b.md": "depthseg-2", "c.md": "depthseg-3"}
    assert ids == {e.note_relpath: e.id for e in resolve_vault(list(reversed(notes)), catalog)}


def test_duplicate_by_normalised_title(catalog, make_note):
    first = make_note("p.md", {"Method": "X"}, title="Deep Anomaly Detection for Generalized Face Anti-Spoofing")
    second = make_note("q.md", {"Method": "Y"}, {"title": "deep anomaly detection for generalized face anti‑spoofing"})
    exps = resolve_vault([first, second], catalog)
    assert [e.duplicates for e in exps] == [["anomaly-2"], ["anomaly"]]
