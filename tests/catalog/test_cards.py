import textwrap

import pytest

from vaultlab.catalog import load_catalog
from vaultlab.catalog.cards import PROVENANCE

SHIPPED = ("anomaly", "baseline", "cdcn", "composed", "depthseg", "distillation", "onesidetriplet")


def test_shipped_cards_load_cleanly(catalog):
    assert sorted(catalog.cards) == list(SHIPPED)
    assert catalog.diagnostics == []


@pytest.mark.parametrize("card_id", SHIPPED)
def test_profiles_and_assumptions(catalog, card_id):
    card = catalog.cards[card_id]
    assert card.profiles["quick"]["input_size"] == 64
    assert card.profiles["paper"]["input_size"] >= 224
    assert card.assumptions, "every card records the choices the paper leaves open"
    assert all(PROVENANCE.match(a.provenance) for a in card.assumptions)


def test_paper_identifiers_and_protocols(catalog):
    cards = catalog.cards
    assert cards["anomaly"].paper.arxiv == "1904.08241" and cards["anomaly"].default_protocol == "unseen-attack:replay"
    assert cards["onesidetriplet"].paper.arxiv == "2211.15955" and cards["onesidetriplet"].default_protocol == "lodo:D3"
    assert cards["distillation"].paper.doi == "10.1109/JSTSP.2020.3001719"
    assert cards["distillation"].default_protocol == "adapt:D0->D1"
    assert cards["depthseg"].paper.doi == "10.1109/IJCNN55064.2022.9892826"
    assert list(cards["depthseg"].variants) == ["pspnet", "deeplabv3plus"]
    assert cards["baseline"].default_protocol == "intra" and cards["depthseg"].default_protocol == "intra"


def _vault_card(tmp_path, name, text):
    folder = tmp_path / ".vaultlab" / "methods"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")


MINIMAL = """\
    id: {id}
    title: {title}
    recipe: baseline
    components:
      backbone: resnet18
      losses: {{bce: 1.0}}
    default_protocol: intra
    profiles:
      quick: {{epochs: 1}}
    """


def test_vault_card_adds_and_overrides_by_id(tmp_path):
    _vault_card(tmp_path, "mine.yaml", MINIMAL.format(id="mymethod", title="Mine"))
    _vault_card(tmp_path, "baseline.yaml", MINIMAL.format(id="baseline", title="My baseline"))
    catalog = load_catalog(tmp_path)
    assert catalog.diagnostics == []
    assert catalog.cards["mymethod"].source == ".vaultlab/methods/mine.yaml"
    assert catalog.cards["baseline"].title == "My baseline"
    assert catalog.cards["baseline"].profiles == {"quick": {"epochs": 1}}  # replaced whole, not merged


def test_malformed_card_is_a_diagnostic_with_file_and_line(tmp_path):
    _vault_card(tmp_path, "bad.yaml", """\
        id: bad
        title: Bad
        recipe: baseline
        components:
          backbone: resnet18
          losses: {bce: 1.0}
        default_protocol: intra
        profiles:
          quick: {epochs: 1}
        assumptions:
          - what: lr
            choice: "1e-3"
            provenance: my guess
        """)
    _vault_card(tmp_path, "broken.yaml", "id: broken\ntitle: [unclosed\n")
    catalog = load_catalog(tmp_path)
    assert "bad" not in catalog.cards and "broken" not in catalog.cards
    by_file = {d.path: d for d in catalog.diagnostics}
    assert by_file[".vaultlab/methods/bad.yaml"].line == 13
    assert "evidence tag" in by_file[".vaultlab/methods/bad.yaml"].message
    assert by_file[".vaultlab/methods/broken.yaml"].severity == "error"
    assert by_file[".vaultlab/methods/broken.yaml"].line >= 2


def test_unknown_component_id_names_the_closest(tmp_path):
    _vault_card(tmp_path, "typo.yaml", MINIMAL.format(id="typo", title="Typo").replace("resnet18", "resnet-5O"))
    (diagnostic,) = load_catalog(tmp_path).diagnostics
    assert diagnostic.line == 5 and "resnet50" in diagnostic.message


def test_card_is_data_only(tmp_path):
    _vault_card(tmp_path, "evil.yaml", MINIMAL.format(id="evil", title="!!python/object/apply:os.system ['touch pwned']"))
    catalog = load_catalog(tmp_path)
    assert "evil" not in catalog.cards
    assert "tags are not allowed" in catalog.diagnostics[0].message
    assert not (tmp_path / "pwned").exists()


def test_a_cards_thread_sensitivity_is_its_own_measured_text(tmp_path, catalog):
    assert "bitwise-identical" in catalog.cards["distillation"].thread_sensitivity
    _vault_card(tmp_path, "mine.yaml", MINIMAL.format(id="mymethod", title="Mine")
                + 'thread_sensitivity: "HTER moves 0.5 points"\n')
    _vault_card(tmp_path, "bad.yaml", MINIMAL.format(id="bad", title="Bad") + "thread_sensitivity: [1, 2]\n")
    loaded = load_catalog(tmp_path)
    assert loaded.cards["mymethod"].thread_sensitivity == "HTER moves 0.5 points"
    assert loaded.cards["baseline"].thread_sensitivity == ""  # not measured: the note says so
    (problem,) = [d for d in loaded.diagnostics if d.path.endswith("bad.yaml")]
    assert problem.line == 10 and "thread_sensitivity" in problem.message
