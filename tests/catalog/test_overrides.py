import pytest

from vaultlab.catalog import OverrideError, parse_overrides, set_override


@pytest.mark.parametrize(("text", "expected"), [
    ("lr=1e-3", ("lr", 0.001)),
    ("epochs = 3", ("epochs", 3)),
    ("hflip=false", ("hflip", False)),
    ("encoder=resnet34", ("encoder", "resnet34")),
    ("quick.atrous_rates=[6, 12, 18]", ("quick.atrous_rates", [6, 12, 18])),
    ("losses.mmd=0.5", ("losses.mmd", 0.5)),
    ("protocol=lodo:D1", ("protocol", "lodo:D1")),
    ("note=yes", ("note", "yes")),  # YAML 1.2: yes is a string
])
def test_typed_values(text, expected):
    assert set_override(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("lr", "expected key=value"),
    ("lr=", "no value"),
    ("1lr=3", "is not a key"),
    ("a.b.c=1", "is not a key"),
    ("lr={a: 1}", "mappings are not allowed"),
    ("lr=[1, 2", "not a YAML scalar"),
])
def test_bad_syntax(text, message):
    with pytest.raises(OverrideError, match=message):
        set_override(text)


def test_later_set_wins():
    assert parse_overrides(["lr=1", "lr=2"]) == {"lr": 2}
