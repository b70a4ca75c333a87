"""``--set key=value`` and vault-config overrides: parsing, the keys a card accepts, typing.

Keys:
- ``backbone``, ``input``, ``temporal``, ``supervision``: a component (free text, mapped through the vocabulary);
- ``losses``: the set of losses; ``losses.<id>``: one loss weight;
- ``protocol``;
- ``<hparam>``: that hyper-parameter in every profile; ``<profile>.<hparam>``: in one profile.
Values are YAML 1.2 scalars or flow lists: ``lr=1e-3`` is a float, ``hflip=false`` a bool,
``atrous_rates=[6, 12, 18]`` a list, ``encoder=resnet34`` a string.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from vaultlab import registry
from vaultlab.catalog.cards import COMPONENT_CATEGORIES, MethodCard

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*(?:\.[A-Za-z_][A-Za-z0-9_\-+]*)?$")


class OverrideError(ValueError):
    """A ``--set`` that cannot be applied; the message says why and what would work."""


def set_override(text: str) -> tuple[str, Any]:
    """``"lr=1e-3"`` → ``("lr", 0.001)``. Raises ``OverrideError`` on bad syntax."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep:
        raise OverrideError(f"--set {text!r}: expected key=value, e.g. --set lr=1e-3")
    if not _KEY.match(key):
        raise OverrideError(f"--set {text!r}: {key!r} is not a key (letters, digits, '_'; one optional '.', e.g. quick.lr)")
    if not raw.strip():
        raise OverrideError(f"--set {text!r}: no value after '='")
    try:
        value = YAML(typ="safe", pure=True).load(raw)
    except YAMLError:
        raise OverrideError(f"--set {text!r}: {raw.strip()!r} is not a YAML scalar or flow list (quote text with special characters)") from None
    if isinstance(value, dict):
        raise OverrideError(f"--set {text!r}: mappings are not allowed; set one key at a time")
    if value is not None and not isinstance(value, (str, int, float, bool, list)):
        value = str(raw.strip())  # dates and other YAML types: keep the text
    return key, value


def parse_overrides(texts: list[str]) -> dict[str, Any]:
    """Several ``--set`` options → one dict; a later one wins."""
    return dict(set_override(text) for text in texts)


def declared_hparams(card: MethodCard | None) -> dict[str, str] | None:
    """key → type of every hyper-parameter the card's recipe reads, or ``None`` when it declares none."""
    return registry.recipe_hparams(card.recipe) if card else None


def hparam_names(card: MethodCard) -> set[str]:
    """The hyper-parameters ``--set`` may change: those the recipe declares it reads; for a recipe that
    declares none, those its card sets."""
    declared = declared_hparams(card)
    return set(declared) if declared is not None else card.hparam_keys()


def known_override_keys(card: MethodCard | None) -> list[str]:
    """Every key ``--set`` accepts for an experiment resolved with ``card``."""
    keys = [*COMPONENT_CATEGORIES, "protocol"]
    if card is None:
        return keys
    keys += [f"losses.{loss}" for loss in card.components.get("losses", {})]
    hparams = sorted(hparam_names(card))
    keys += hparams
    keys += [f"{profile}.{key}" for profile in card.profiles for key in hparams]
    return keys


def classify_key(key: str, card: MethodCard | None, known_losses: set[str]) -> tuple[str, str, str] | None:
    """``(kind, profile, name)`` with kind in component / loss_weight / protocol / hparam, or None if unknown.

    ``known_losses`` are canonical loss ids: ``losses.<id>`` may add a loss the card does not weigh."""
    if key in COMPONENT_CATEGORIES:
        return ("component", "", key)
    if key == "protocol":
        return ("protocol", "", key)
    head, _, tail = key.partition(".")
    if head == "losses" and tail:
        return ("loss_weight", "", tail) if tail in known_losses else None
    if card is None:
        return None
    hparams = hparam_names(card)
    if not tail and key in hparams:
        return ("hparam", "", key)
    if tail and head in card.profiles and tail in hparams:
        return ("hparam", head, tail)
    return None


def unknown_key_message(key: str, card: MethodCard | None) -> str:
    known = known_override_keys(card)
    close = difflib.get_close_matches(key, known, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    owner = f"card {card.id!r}" if card else "an experiment without a method card"
    return f"unknown key {key!r} for {owner}.{hint} Known keys: {', '.join(k for k in known if '.' not in k or k.startswith('losses.'))} (prefix a profile, e.g. quick.lr, to set one profile)"


_SAMPLES = {"int": 0, "float": 0.0, "bool": False, "str": "", "list": []}


def coerce_declared(key: str, value: Any, type_name: str) -> Any:
    """``value`` as the type the recipe declares for ``key`` ("int", "float", "bool", "str", "list")."""
    if type_name not in _SAMPLES:
        raise OverrideError(f"{key}: the recipe declares an unknown type {type_name!r}")
    return coerce_like(key, value, _SAMPLES[type_name])


def coerce_like(key: str, value: Any, current: Any) -> Any:
    """``value`` in the type of ``current`` (an int is fine for a float; a scalar becomes a one-item list)."""
    if current is None or value is None:
        return value
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise OverrideError(f"{key} expects true or false, not {value!r}")
        return value
    if isinstance(current, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise OverrideError(f"{key} expects a number, not {value!r}")
        if isinstance(current, float):
            return float(value)
        if isinstance(value, float) and not value.is_integer():
            raise OverrideError(f"{key} expects a whole number, not {value!r}")
        return int(value)
    if isinstance(current, list):
        return value if isinstance(value, list) else [value]
    if isinstance(current, str):
        if isinstance(value, list):
            raise OverrideError(f"{key} expects one value, not a list")
        return value if isinstance(value, str) else str(value)
    return value
