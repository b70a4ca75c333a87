"""Method cards: what a paper's method is in vaultlab's terms (recipe, components, protocol, profiles)
and every choice the paper leaves open, with where that choice came from.

Cards are data only. The shipped ones live in ``methods/*.yaml``; a vault adds or replaces cards (by
``id``) in ``<vault>/.vaultlab/methods/*.yaml``. A card that does not validate is reported with its
file and line and left out; nothing in a card is ever executed.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from vaultlab import registry
from vaultlab.catalog.vocabulary import Vocabulary, load_vocabulary, normalise_term, vocabulary_from_yaml
from vaultlab.catalog.yamlfile import YamlData, YamlFileError, load_yaml_file
from vaultlab.resources import methods_dir
from vaultlab.vault.model import Diagnostic

VOCABULARY_FILE = "vocabulary.yaml"
COMPOSED_CARD = "composed"  # the card of notes whose Method matches no other card (catalog/compose.py)
VAULT_METHODS_DIR = ".vaultlab/methods"

# component name → vocabulary category; the order is the order `vaultlab show` prints them in
COMPONENT_CATEGORIES: dict[str, str] = {
    "backbone": "backbones",
    "losses": "losses",
    "input": "inputs",
    "supervision": "supervision",
    "temporal": "temporal",
}
PROFILES_REQUIRED = ("quick",)
SMOKE_BASE = "quick"  # the `smoke` profile starts from `quick` and overrides sizes and schedule
_CARD_KEYS = {"id", "title", "paper", "match", "recipe", "components", "default_protocol", "seeds", "variants", "profiles", "assumptions",
              "thread_sensitivity"}
_PAPER_KEYS = {"title", "authors", "year", "venue", "doi", "arxiv", "urls"}
_MATCH_KEYS = {"methods", "aliases", "identifiers"}
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_TAG = r"(?:V-3p|V|R|I)"
PROVENANCE = re.compile(rf"^\[{_TAG}(?:/{_TAG})*\]\s+\S")


@dataclass(frozen=True)
class Assumption:
    what: str
    choice: str
    provenance: str  # "[R] papers.md §1.3: …" — evidence tag first, then the source


@dataclass(frozen=True)
class PaperRef:
    title: str = ""
    authors: tuple[str, ...] = ()
    year: int | None = None
    venue: str = ""
    doi: str = ""
    arxiv: str = ""
    urls: tuple[str, ...] = ()


@dataclass
class MethodCard:
    id: str
    title: str
    recipe: str
    paper: PaperRef
    match_methods: tuple[str, ...]
    match_aliases: tuple[str, ...]
    match_identifiers: tuple[str, ...]  # extra DOIs / URLs / arXiv ids that name this paper
    components: dict[str, Any]  # backbone: str, losses: {id: weight}, input: str, supervision: [str], temporal: str
    default_protocol: str
    seeds: list[int]  # what `vaultlab run` uses without --seeds
    variants: dict[str, dict[str, Any]]  # variant name → component overrides
    profiles: dict[str, dict[str, Any]]  # profile → hyper-parameter → value
    assumptions: list[Assumption]
    source: str  # where the card was read from, for messages ("methods/anomaly.yaml")
    # How far one seed's numbers move between 1 and 2 CPU threads (float reductions change order), as
    # `benchmarks/recipes.py --thread-check` measured it; result notes quote it ("" = not measured).
    thread_sensitivity: str = ""

    def hparam_keys(self) -> set[str]:
        return {key for values in self.profiles.values() for key in values}


@dataclass
class Catalog:
    cards: dict[str, MethodCard]
    vocabulary: Vocabulary
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @cached_property
    def hparam_keys(self) -> set[str]:
        """Every hyper-parameter some card defines (a vault-wide override may target any of them)."""
        return {key for card in self.cards.values() for key in card.hparam_keys()}

    @cached_property
    def cards_by_paper_key(self) -> dict[tuple[str, str], list[str]]:
        """Paper identifier key → ids of the cards it names (sorted); computed once per catalog."""
        from vaultlab.catalog.identifiers import card_paper_keys

        index: dict[tuple[str, str], list[str]] = {}
        for card_id in sorted(self.matchable):
            for key in card_paper_keys(self.cards[card_id]):
                index.setdefault(key, []).append(card_id)
        return index

    @cached_property
    def cards_by_name(self) -> dict[str, list[str]]:
        """Normalised method name / alias / title → ids of the cards it names (sorted)."""
        index: dict[str, list[str]] = {}
        for card_id in sorted(self.matchable):
            card = self.cards[card_id]
            for name in {card.id, card.title, card.paper.title, *card.match_methods, *card.match_aliases}:
                if name and card_id not in index.setdefault(normalise_term(name), []):
                    index[normalise_term(name)].append(card_id)
        return index

    @property
    def matchable(self) -> list[str]:
        """Cards a note can match by name or identifier: all but ``composed``, which is the fallback for
        notes that match none."""
        return [card_id for card_id in self.cards if card_id != COMPOSED_CARD]


class _CardError(ValueError):
    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.line = line


def load_catalog(vault_root: Path | None = None, shipped_dir: Path | None = None) -> Catalog:
    """The shipped cards and vocabulary, plus a vault's own (``<vault>/.vaultlab/methods``) on top."""
    diagnostics: list[Diagnostic] = []
    shipped = shipped_dir or methods_dir()
    vocabulary = load_vocabulary(shipped / VOCABULARY_FILE)  # shipped data: a bad file is a bug, let it raise
    layers = [(shipped, "methods")]
    if vault_root is not None:
        local = Path(vault_root) / VAULT_METHODS_DIR
        if local.is_dir():
            layers.append((local, VAULT_METHODS_DIR))
            local_vocabulary = local / VOCABULARY_FILE
            if local_vocabulary.is_file():
                label = f"{VAULT_METHODS_DIR}/{VOCABULARY_FILE}"
                try:
                    vocabulary = vocabulary.merged_with(vocabulary_from_yaml(load_yaml_file(local_vocabulary)))
                except YamlFileError as exc:
                    diagnostics.append(Diagnostic(label, exc.line, "error", f"vocabulary not loaded: {exc}"))
    cards: dict[str, MethodCard] = {}
    for folder, label in layers:
        for path in sorted(folder.glob("*.yaml")):
            if path.name == VOCABULARY_FILE:
                continue
            card, problems = load_card(path, vocabulary, f"{label}/{path.name}")
            diagnostics.extend(problems)
            if card is not None:
                # a vault card with a shipped card's id replaces it whole: a half-merged card would
                # mix two sets of assumptions
                cards[card.id] = card
    return Catalog(cards, vocabulary, diagnostics)


def load_card(path: Path, vocabulary: Vocabulary, label: str | None = None) -> tuple[MethodCard | None, list[Diagnostic]]:
    label = label or path.name
    try:
        doc = load_yaml_file(path)
    except YamlFileError as exc:
        return None, [Diagnostic(label, exc.line, "error", f"method card not loaded: {exc}")]
    return card_from_yaml(doc, vocabulary, label)


def card_from_yaml(doc: YamlData, vocabulary: Vocabulary, label: str) -> tuple[MethodCard | None, list[Diagnostic]]:
    warnings: list[Diagnostic] = []
    try:
        card = _build_card(doc, vocabulary, label, warnings)
    except _CardError as exc:
        return None, [*warnings, Diagnostic(label, exc.line, "error", f"method card not loaded: {exc}")]
    return card, warnings


def _build_card(doc: YamlData, vocabulary: Vocabulary, label: str, warnings: list[Diagnostic]) -> MethodCard:
    data = doc.data
    if not isinstance(data, dict):
        raise _CardError("a method card is a YAML mapping", 1)

    def fail(message: str, *path: str | int) -> _CardError:
        return _CardError(message, doc.line(*path))

    def text(key: str, *, required: bool = True) -> str:
        value = data.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value.strip():
            raise fail(f"'{key}' must be a non-empty string", key)
        return value.strip()

    _warn_unknown_keys(data, _CARD_KEYS, (), doc, label, warnings)
    card_id = text("id")
    if not _ID.match(card_id):
        raise fail(f"id {card_id!r} must be lower-case letters, digits and '_' (it becomes part of experiment ids)", "id")

    paper = _section(data, "paper", doc)
    _warn_unknown_keys(paper, _PAPER_KEYS, ("paper",), doc, label, warnings)
    match = _section(data, "match", doc)
    _warn_unknown_keys(match, _MATCH_KEYS, ("match",), doc, label, warnings)
    year = paper.get("year")
    if year is not None and not isinstance(year, int):
        raise fail("paper.year must be a number", "paper", "year")

    components = _components(data.get("components"), vocabulary, doc)
    variants = _variants(data.get("variants"), vocabulary, doc)
    profiles = _profiles(data.get("profiles"), doc)
    _check_declared_hparams(text("recipe"), profiles, doc)
    assumptions = _assumptions(data.get("assumptions"), doc)
    seeds = data.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise fail("seeds must be a non-empty list of integers, e.g. [0, 1, 2]", "seeds")
    protocol = text("default_protocol")
    if any(ch.isspace() for ch in protocol):
        raise fail(f"default_protocol {protocol!r} must be one word like 'lodo:D3'", "default_protocol")

    return MethodCard(
        id=card_id,
        title=text("title"),
        recipe=text("recipe"),
        paper=PaperRef(
            title=_string(paper, "title", doc, "paper"),
            authors=_strings(paper, "authors", doc, "paper"),
            year=year,
            venue=_string(paper, "venue", doc, "paper"),
            doi=_string(paper, "doi", doc, "paper"),
            arxiv=_string(paper, "arxiv", doc, "paper"),
            urls=_strings(paper, "urls", doc, "paper"),
        ),
        match_methods=_strings(match, "methods", doc, "match"),
        match_aliases=_strings(match, "aliases", doc, "match"),
        match_identifiers=_strings(match, "identifiers", doc, "match"),
        components=components,
        default_protocol=protocol,
        seeds=seeds,
        variants=variants,
        profiles=profiles,
        assumptions=assumptions,
        source=label,
        thread_sensitivity=text("thread_sensitivity", required=False),
    )


def _section(data: dict, key: str, doc: YamlData) -> dict:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise _CardError(f"'{key}' must be a mapping", doc.line(key))
    return value


def _string(section: dict, key: str, doc: YamlData, parent: str) -> str:
    value = section.get(key)
    if value is None:
        return ""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise _CardError(f"{parent}.{key} must be a string", doc.line(parent, key))
    return str(value).strip()


def _strings(section: dict, key: str, doc: YamlData, parent: str) -> tuple[str, ...]:
    value = section.get(key)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
        raise _CardError(f"{parent}.{key} must be a list of strings", doc.line(parent, key))
    return tuple(str(v).strip() for v in value)


def _check_id(category: str, value: Any, vocabulary: Vocabulary, doc: YamlData, *path: str | int) -> str:
    if not isinstance(value, str) or not vocabulary.knows(category, value):
        close = vocabulary.suggest(category, str(value))
        hint = f"; closest: {', '.join(close)}" if close else ""
        raise _CardError(f"{'.'.join(map(str, path))}: {value!r} is not a canonical id in methods/vocabulary.yaml ({category}){hint}", doc.line(*path))
    return value


def _component_values(raw: Any, vocabulary: Vocabulary, doc: YamlData, root: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _CardError(f"'{'.'.join(root)}' must be a mapping", doc.line(*root))
    out: dict[str, Any] = {}
    for name, value in raw.items():
        path = (*root, name)
        category = COMPONENT_CATEGORIES.get(name)
        if category is None:
            close = difflib.get_close_matches(name, COMPONENT_CATEGORIES, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise _CardError(f"unknown component {name!r}{hint}; known: {', '.join(COMPONENT_CATEGORIES)}", doc.line(*path))
        if name == "losses":
            if not isinstance(value, dict) or not value:
                raise _CardError("losses must map loss ids to weights, e.g. {bce: 1.0}", doc.line(*path))
            for loss, weight in value.items():
                _check_id(category, loss, vocabulary, doc, *path, loss)
                if isinstance(weight, bool) or not isinstance(weight, (int, float)):
                    raise _CardError(f"weight of loss {loss!r} must be a number", doc.line(*path, loss))
            out[name] = {loss: float(weight) for loss, weight in value.items()}
        elif name == "supervision":
            items = value if isinstance(value, list) else [value]
            out[name] = [_check_id(category, item, vocabulary, doc, *path) for item in items]
        else:
            out[name] = _check_id(category, value, vocabulary, doc, *path)
    return out


def _components(raw: Any, vocabulary: Vocabulary, doc: YamlData) -> dict[str, Any]:
    components = _component_values(raw, vocabulary, doc, ("components",))
    for required in ("backbone", "losses"):
        if required not in components:
            raise _CardError(f"components.{required} is required", doc.line("components"))
    return components


def _variants(raw: Any, vocabulary: Vocabulary, doc: YamlData) -> dict[str, dict[str, Any]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _CardError("'variants' must map variant names to component overrides", doc.line("variants"))
    return {str(name): _component_values(body, vocabulary, doc, ("variants", name)) for name, body in raw.items()}


def _profiles(raw: Any, doc: YamlData) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, dict):
        raise _CardError("'profiles' must map profile names (quick, paper) to hyper-parameters", doc.line("profiles"))
    for required in PROFILES_REQUIRED:
        if required not in raw:
            raise _CardError(f"profiles.{required} is required", doc.line("profiles"))
    profiles: dict[str, dict[str, Any]] = {}
    for name, values in raw.items():
        if not isinstance(values, dict):
            raise _CardError(f"profiles.{name} must be a mapping of hyper-parameters", doc.line("profiles", name))
        for key, value in values.items():
            if "." in key or "=" in key:
                raise _CardError(f"profiles.{name}.{key}: '.' and '=' are reserved for --set keys", doc.line("profiles", name, key))
            if isinstance(value, dict):
                raise _CardError(f"profiles.{name}.{key}: nested mappings are not allowed; use a flat key", doc.line("profiles", name, key))
        profiles[str(name)] = dict(values)
    if "smoke" in profiles:
        profiles["smoke"] = {**profiles[SMOKE_BASE], **profiles["smoke"]}
    return profiles


_TYPE_CHECKS = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "list": lambda v: isinstance(v, list),
}


def _check_declared_hparams(recipe: str, profiles: dict[str, dict[str, Any]], doc: YamlData) -> None:
    """A profile key the recipe does not read, or of another type than it declares, is an error: a
    setting that is recorded in the run but changes nothing would mislead whoever reads the result."""
    declared = registry.recipe_hparams(recipe)
    if declared is None:
        return
    for profile, values in profiles.items():
        for key, value in values.items():
            if key not in declared:
                close = difflib.get_close_matches(key, declared, n=3)
                hint = f"; closest: {', '.join(close)}" if close else ""
                raise _CardError(f"profiles.{profile}.{key}: recipe {recipe!r} reads no hyper-parameter {key!r}{hint}", doc.line("profiles", profile, key))
            if value is not None and not _TYPE_CHECKS[declared[key]](value):
                raise _CardError(f"profiles.{profile}.{key}: recipe {recipe!r} expects {declared[key]}, not {value!r}", doc.line("profiles", profile, key))


def _assumptions(raw: Any, doc: YamlData) -> list[Assumption]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _CardError("'assumptions' must be a list of {what, choice, provenance}", doc.line("assumptions"))
    out = []
    for index, item in enumerate(raw):
        path = ("assumptions", index)
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) and item[k].strip() for k in ("what", "choice", "provenance")):
            raise _CardError("each assumption needs non-empty 'what', 'choice' and 'provenance' strings", doc.line(*path))
        if not PROVENANCE.match(item["provenance"]):
            raise _CardError(f"provenance {item['provenance']!r} must start with an evidence tag: [V], [V-3p], [R], [I] or a combination like [R/I], then its source",
                             doc.line(*path, "provenance"))
        out.append(Assumption(item["what"].strip(), str(item["choice"]).strip(), item["provenance"].strip()))
    return out


def _warn_unknown_keys(section: dict, known: set[str], path: tuple[str, ...], doc: YamlData, label: str, warnings: list[Diagnostic]) -> None:
    for key in section:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(known))}"
            warnings.append(Diagnostic(label, doc.line(*path, key), "warning", f"unknown key {'.'.join((*path, key))!r} ignored", hint))
