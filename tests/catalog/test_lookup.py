import pytest

from vaultlab.catalog import find_experiment


@pytest.mark.parametrize(("query", "expected"), [
    ("003_distillation", "003_distillation"),
    ("003_DISTILLATION", "003_distillation"),
    ("003_2b75969d89ee11c2", "003_distillation"),
    ("003_2b75969d89ee11c2.md", "003_distillation"),
    ("003", "003_distillation"),
    ("3", "003_distillation"),
    ("depthseg_fas", "004_depthseg"),
    ("Face Anti-Spoofing With Deep Neural Network Distillation", "003_distillation"),
    ("onesidetriplet", "002_onesidetriplet"),
    ("depthseg", "004_depthseg"),
])
def test_every_accepted_form(seed_experiments, query, expected):
    assert find_experiment(query, seed_experiments).id == expected


def test_card_id_shared_by_two_notes_is_ambiguous(seed_experiments):
    with pytest.raises(LookupError, match="000_anomaly, 001_anomaly"):
        find_experiment("anomaly", seed_experiments)


def test_unknown_query_lists_close_matches(seed_experiments):
    with pytest.raises(LookupError, match="Close: .*003_distillation") as info:
        find_experiment("003_distilation", seed_experiments)
    assert "Experiments: 000_anomaly" in str(info.value)
