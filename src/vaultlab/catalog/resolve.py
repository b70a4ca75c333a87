"""Paper note + method cards → Experiment: which card, which components, which hyper-parameters, and
where each value came from.

Precedence, lowest first: the card's defaults < the note's Quick Summary < the vault config < ``--set``
(for hyper-parameters: the card's profile < the vault config < ``--set``). Every value is a
``Resolved(value, source)`` so ``vaultlab show`` can say which of the four it came from.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from vaultlab import registry
from vaultlab.catalog import compose
from vaultlab.catalog.cards import COMPONENT_CATEGORIES, COMPOSED_CARD, Assumption, Catalog, MethodCard
from vaultlab.catalog.identifiers import KINDS, PaperKey, note_paper_keys
from vaultlab.catalog.overrides import OverrideError, classify_key, coerce_declared, coerce_like, declared_hparams, unknown_key_message
from vaultlab.catalog.vocabulary import normalise_term, split_qualifier
from vaultlab.vault.blocks import Rows
from vaultlab.vault.model import Diagnostic, Note, Peers
from vaultlab.vault.sync import paused_gc

SOURCES = ("card", "note", "config", "cli")  # lowest precedence first
CONFIG_LABEL = ".vaultlab/config.yaml"

# Quick Summary key (SummaryField.key) → component; labels a note may spell in the plural too
NOTE_COMPONENT_FIELDS = {
    "backbone": "backbone", "backbones": "backbone", "architecture": "backbone",
    "loss": "losses", "losses": "losses",
    "input": "input", "inputs": "input", "modality": "input",
    "supervision": "supervision",
    "static_dynamic": "temporal",
}
_LEADING_NUMBER = re.compile(r"^(\d+)")


@dataclass(frozen=True)
class Resolved:
    value: Any
    source: str  # one of SOURCES
    detail: str = ""  # where exactly: "line 17", "methods/anomaly.yaml", ".vaultlab/config.yaml", "--set"


class UnmappedTerm(NamedTuple):
    term: str
    line: int
    suggestions: tuple[str, ...]


@dataclass
class Experiment:
    id: str
    note_relpath: str
    note_stem: str
    title: str
    method: str  # the note's Method text ("" when absent)
    aliases: list[str]  # the note's frontmatter aliases
    card: MethodCard | None
    matched_by: str  # "doi" | "arxiv" | "url" | "title" | "method" | "alias" | "" (no card)
    recipe: str | None
    runnable: bool
    runnable_reason: str  # "" when runnable
    variants: list[str]
    variant_components: dict[str, dict[str, Any]]  # variant → component overrides
    components: dict[str, Resolved]
    protocol: Resolved
    hparams: dict[str, dict[str, Resolved]]  # profile → key → value
    assumptions: list[Assumption]
    unmapped: list[UnmappedTerm]
    diagnostics: list[Diagnostic]
    paper_keys: set[PaperKey] = field(default_factory=set)
    duplicates: Sequence[str] = field(default_factory=list)  # ids of experiments on the same paper (a Peers view)
    blockers: list[compose.Blocker] = field(default_factory=list)  # known terms the recipe cannot build

    def component_values(self, variant: str | None = None) -> dict[str, Any]:
        """Plain component values for a recipe (``variant`` swaps in that variant's components)."""
        values = {name: resolved.value for name, resolved in self.components.items()}
        if variant is not None:
            if variant not in self.variant_components:
                raise KeyError(f"{self.id} has no variant {variant!r}; variants: {', '.join(self.variants) or 'none'}")
            values.update(self.variant_components[variant])
            values["variant"] = variant
        return values

    def value_sources(self, profile: str) -> dict[str, str]:
        """Component, protocol and hyper-parameter name → "note" | "card" | "config" | "cli"."""
        sources = {name: r.source for name, r in self.components.items()}
        sources["protocol"] = self.protocol.source
        sources.update({key: r.source for key, r in self.hparams.get(profile, {}).items()})
        return sources

    def hparam_values(self, profile: str) -> dict[str, Any]:
        if profile not in self.hparams:
            raise KeyError(f"{self.id}: no profile {profile!r}; profiles: {', '.join(self.hparams) or 'none'}")
        return {key: resolved.value for key, resolved in self.hparams[profile].items()}


# -- card matching ------------------------------------------------------------------------------

@dataclass(frozen=True)
class CardMatch:
    card: MethodCard | None
    matched_by: str
    diagnostics: tuple[Diagnostic, ...] = ()


def match_card(note: Note, catalog: Catalog, paper_keys: set[PaperKey] | None = None) -> CardMatch:
    """By identifier first (DOI, arXiv id, URL, title), then by the Method name, then by an alias."""
    keys = note_paper_keys(note.frontmatter, note.title, note.stem) if paper_keys is None else paper_keys
    by_identifier = _match_by_identifier(keys, catalog)
    by_name, name_kind = _match_by_name(note, catalog)
    diagnostics = []
    if by_identifier is not None:
        card, kind = by_identifier
        if by_name is not None and by_name.id != card.id:
            method = note.summary_field("method")
            diagnostics.append(Diagnostic(
                note.relpath, method.line if method else 0, "warning",
                f"the {name_kind} names card {by_name.id!r} but the paper's {kind} names card {card.id!r}; using {card.id!r}",
                "fix the note's Method or identifiers, or override the card in .vaultlab/methods/"))
        return CardMatch(card, kind, tuple(diagnostics))
    if by_name is not None:
        return CardMatch(by_name, name_kind)
    return CardMatch(None, "")


def _match_by_identifier(keys: set[PaperKey], catalog: Catalog) -> tuple[MethodCard, str] | None:
    by_key = catalog.cards_by_paper_key  # computed once per catalog, not once per note
    for kind in KINDS:
        owners = sorted({card_id for key in keys if key[0] == kind for card_id in by_key.get(key, ())})
        if owners:
            return catalog.cards[owners[0]], kind
    return None


def _match_by_name(note: Note, catalog: Catalog) -> tuple[MethodCard | None, str]:
    method = note.summary_field("method")
    candidates: list[tuple[str, str]] = []
    if method is not None:
        candidates += [("method", method.value)] + [("method", item) for item in method.items]
    candidates += [("alias", alias) for alias in _note_aliases(note)]
    for kind, text in candidates:
        key = normalise_term(text)
        if not key:
            continue
        owners = catalog.cards_by_name.get(key)
        if owners:
            return catalog.cards[owners[0]], kind
    return None, ""


def _note_aliases(note: Note) -> list[str]:
    aliases = note.frontmatter.get("aliases")
    if isinstance(aliases, str):
        aliases = [aliases]
    if not isinstance(aliases, list):
        return []
    return [str(a).strip() for a in aliases if isinstance(a, (str, int, float)) and str(a).strip()]


# -- resolution ---------------------------------------------------------------------------------

def base_experiment_id(note: Note, card: MethodCard | None) -> str:
    """``<NNN>_<card id>`` when the file name starts with digits, else ``<card id>``; without a card,
    the Method name (or the file stem) stands in for the card id."""
    name = card.id if card else _slug(_method_text(note)) or _slug(_LEADING_NUMBER.sub("", note.stem)) or "note"
    number = _LEADING_NUMBER.match(note.stem)
    return f"{number.group(1)}_{name}" if number else name


def resolve_note(note: Note, catalog: Catalog, vault_settings: dict | None = None, cli_overrides: dict | None = None,
                 without: list[str] | None = None) -> Experiment:
    """One note → one Experiment. ``cli_overrides`` come from ``set_override``; a key the card does not
    know raises ``OverrideError`` (the CLI shows it), while a bad vault-config key is a warning.

    A note whose Method matches no card but that names a backbone or losses is *composed* (card
    ``composed``, ``catalog/compose.py``). ``without`` lists note terms the user chose to run without
    (``--without "rPPG loss"``): they are left out and said as assumptions; a term the note does not
    name raises ``OverrideError``."""
    paper_keys = note_paper_keys(note.frontmatter, note.title, note.stem)
    match = match_card(note, catalog, paper_keys)
    card, matched_by = match.card, match.matched_by
    composed = card is None and COMPOSED_CARD in catalog.cards and _names_components(note)
    if composed:
        card, matched_by = catalog.cards[COMPOSED_CARD], "composition"
    diagnostics: list[Diagnostic] = list(match.diagnostics)
    assumptions: list[Assumption] = list(card.assumptions) if card else []
    unmapped: list[UnmappedTerm] = []

    components: dict[str, Resolved] = {}
    if card:
        for name in COMPONENT_CATEGORIES:
            if name in card.components:
                components[name] = Resolved(card.components[name], "card", card.source)
    skip = {normalise_term(term): term for term in without or []}
    note_backbones, unmapped_fields, dropped = _apply_note_components(note, catalog, card, components, unmapped, diagnostics, assumptions, skip)
    missing = [skip[key] for key in skip if key not in {normalise_term(term) for term, _ in dropped}]
    if missing:
        terms = ", ".join(repr(t) for t in _note_terms(note)) or "none"
        raise OverrideError(f"--without {', '.join(map(repr, missing))}: the note names no such term; its terms: {terms}")
    for term, line in dropped:
        assumptions.append(Assumption(f"note term {term!r} (line {line})", "left out of this run at the user's request (--without)",
                                      "[I] the user's --without option: the paper uses it, this run does not"))

    # variants: alternatives the note lists ("PSPNet, DeepLabv3+"), else the card's own
    variant_components: dict[str, dict[str, Any]] = {}
    if len(note_backbones) > 1:
        for backbone in note_backbones:
            variant_components[backbone] = {**(card.variants.get(backbone, {}) if card else {}), "backbone": backbone}
    elif not note_backbones and card:
        variant_components = {name: dict(body) for name, body in card.variants.items()}

    protocol = Resolved(card.default_protocol, "card", card.source) if card else Resolved(None, "card", "no card")
    dg = composed and compose.says_domain_generalisation(note.frontmatter.get("tags"), _summary_text(note, "approach"))
    if dg:
        protocol = Resolved(compose.DG_PROTOCOL, "card", "composition: the note says domain generalisation")
    note_protocol = _note_protocol(note)
    if note_protocol:
        protocol = note_protocol
    hparams = {profile: dict(values) for profile, values in _card_hparams(catalog, card).items()} if card else {}

    state = _OverrideTarget(card, catalog, components, hparams, protocol, unmapped_fields, assumptions)
    settings = vault_settings or {}
    base_id = base_experiment_id(note, None if composed else card)
    for layer, is_global in _config_layers(settings, base_id, note.stem, card):
        for key, value in layer.items():
            try:
                state.apply(str(key), value, "config", CONFIG_LABEL, skip_unknown_to_card=is_global)
            except OverrideError as exc:
                diagnostics.append(Diagnostic(CONFIG_LABEL, 0, "warning", f"{base_id}: {exc}"))
    for key, value in (cli_overrides or {}).items():
        state.apply(key, value, "cli", "--set")
    protocol = state.protocol
    # a backbone fixed by config or --set replaces the note's alternatives
    if len(note_backbones) > 1 and components["backbone"].source in ("config", "cli"):
        variant_components = {}

    if composed:
        # supervision the note (or config, --set) names, not the card's default, may add a loss
        values = {name: r.value for name, r in components.items() if name != "supervision" or r.source != "card"}
        for term, loss in compose.supervision_losses(values):
            weights = {**components["losses"].value, loss: 1.0}
            components["losses"] = Resolved(weights, components["losses"].source, components["losses"].detail)
            assumptions.append(Assumption(f"loss {loss}", f"added with weight 1: the note's supervision {term!r} needs it and no named loss reads it",
                                          "[I] vaultlab composition (catalog/compose.py)"))
        assumptions += compose.composition_assumptions({name: r.value for name, r in components.items()}, dg)
    found_blockers = _blockers(catalog, card, {name: r.value for name, r in components.items()},
                               [v["backbone"] for v in variant_components.values() if "backbone" in v]) if card else []
    protocol_name = str(protocol.value or "").partition(":")[0]
    if card and protocol_name and not registry.known("protocol", protocol_name):
        found_blockers.append(compose.Blocker("protocol", str(protocol.value), "no protocol of that name is registered",
                                              tuple(registry.closest(protocol_name, registry.names("protocol")))))
    runnable, because = _runnable(note, card, state.unmapped_fields, unmapped, found_blockers)
    return Experiment(
        id=base_id,
        note_relpath=note.relpath,
        note_stem=note.stem,
        title=(note.title if note.title and note.title != note.stem else "") or (card.paper.title if card else "") or note.stem,
        method=_method_text(note),
        aliases=_note_aliases(note),
        card=card,
        matched_by=matched_by,
        recipe=card.recipe if card else None,
        runnable=runnable,
        runnable_reason=because,
        variants=list(variant_components),
        variant_components=variant_components,
        components=components,
        protocol=protocol,
        hparams=hparams,
        assumptions=assumptions,
        unmapped=unmapped,
        diagnostics=diagnostics,
        paper_keys=paper_keys,
        blockers=found_blockers,
    )


def _memo(catalog: Catalog, name: str) -> dict:
    """A per-catalog memo: what depends only on a card (and plain component values) is computed
    once per catalog, not once per note (a vault repeats a few cards over thousands of notes)."""
    return catalog.__dict__.setdefault(f"_resolve_{name}", {})


def _card_hparams(catalog: Catalog, card: MethodCard) -> dict[str, dict[str, Resolved]]:
    """The card's profiles as ``Resolved`` values (shared: ``Resolved`` is frozen; copy the dicts)."""
    memo = _memo(catalog, "hparams")
    found = memo.get(card.id)
    if found is None or found[0] is not card:
        found = memo[card.id] = (card, {profile: {key: Resolved(value, "card", card.source) for key, value in values.items()}
                                        for profile, values in card.profiles.items()})
    return found[1]


def _blockers(catalog: Catalog, card: MethodCard, components: dict[str, Any], variant_backbones: list[str]) -> list[compose.Blocker]:
    """``compose.blockers``, once per (card, component values, variant backbones)."""
    key = (card.id, repr(sorted(components.items())), tuple(variant_backbones))
    memo = _memo(catalog, "blockers")
    found = memo.get(key)
    if found is None or found[0] is not card:
        found = memo[key] = (card, tuple(compose.blockers(card, components, variant_backbones)))
    return list(found[1])


def _method_text(note: Note) -> str:
    return _summary_text(note, "method")


def _summary_text(note: Note, key: str) -> str:
    found = note.summary_field(key)
    return found.value.strip() if found else ""


def _names_components(note: Note) -> bool:
    """The note names a backbone or a loss: enough to compose an experiment from."""
    return any(NOTE_COMPONENT_FIELDS.get(f.key) in ("backbone", "losses") and f.items for f in note.summary)


def _note_terms(note: Note) -> list[str]:
    return [item for f in note.summary if f.key in NOTE_COMPONENT_FIELDS for item in f.items]


def _slug(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", unicodedata.normalize("NFKC", text).casefold()).strip("_")


def _note_protocol(note: Note) -> Resolved | None:
    field_ = note.summary_field("protocol")
    if field_ is not None and field_.value.strip():
        return Resolved(field_.value.strip(), "note", f"line {field_.line}")
    value = note.frontmatter.get("protocol")
    if isinstance(value, str) and value.strip():
        return Resolved(value.strip(), "note", f"line {note.frontmatter_lines.get('protocol', 0)}")
    return None


def _apply_note_components(note: Note, catalog: Catalog, card: MethodCard | None, components: dict[str, Resolved],
                           unmapped: list[UnmappedTerm], diagnostics: list[Diagnostic], assumptions: list[Assumption],
                           skip: dict[str, str]) -> tuple[list[str], set[str], list[tuple[str, int]]]:
    """Quick Summary fields → components (source "note"). Returns the note's backbone alternatives, the
    components that have an unmapped term, and the (term, line) pairs left out because ``skip`` (the
    normalised ``--without`` terms) names them."""
    vocabulary = catalog.vocabulary
    backbones: list[str] = []
    unmapped_fields: set[str] = set()
    dropped: list[tuple[str, int]] = []
    for summary in note.summary:
        component = NOTE_COMPONENT_FIELDS.get(summary.key)
        if component is None or not summary.items:
            continue
        category = COMPONENT_CATEGORIES[component]
        mapped: list[str] = []
        for item in summary.items:
            found = vocabulary.lookup(category, item)
            if found.canonical is None:
                found = _lookup_qualified(vocabulary, category, item, summary.label, assumptions) or found
            if normalise_term(item) in skip or (found.canonical is not None and normalise_term(found.canonical) in skip):
                dropped.append((item, summary.line))
                continue
            if found.canonical is None:
                unmapped.append(UnmappedTerm(found.unknown, summary.line, found.suggestions))
                unmapped_fields.add(component)
                hint = f"closest known: {', '.join(found.suggestions)}; " if found.suggestions else ""
                diagnostics.append(Diagnostic(note.relpath, summary.line, "warning",
                                              f"{summary.label}: unknown term {found.unknown!r}",
                                              f"{hint}add it to .vaultlab/methods/vocabulary.yaml or fix the note"))
            elif found.canonical not in mapped:
                mapped.append(found.canonical)
        if not mapped:
            continue
        where = f"line {summary.line}"
        if component == "backbone":
            # a comma between backbones names alternatives (variants); "A+B" is one composite network
            backbones = mapped
            components["backbone"] = Resolved(mapped[0], "note", where)
        elif component == "losses":
            # the one weight rule: a loss named without a weight weighs 1.0, a loss not named weighs 0
            card_weights = card.components.get("losses", {}) if card else {}
            composes = compose.composes_losses(card)
            weights = {}
            for loss in mapped:
                weights[loss] = card_weights.get(loss, 1.0)
                if card and not composes and loss not in card_weights:
                    assumptions.append(Assumption(f"weight of loss {loss!r} (named by the note, not by the card)", "1.0",
                                                  f"[I] vaultlab default; card {card.id!r} has no weight for it"))
                    diagnostics.append(Diagnostic(note.relpath, summary.line, "warning",
                                                  f"{summary.label}: card {card.id!r} does not use loss {loss!r}; recipe {card.recipe!r} may ignore it"))
            if card and not composes:  # the card's losses the note leaves out: explicitly 0, so no recipe default applies
                for loss in card_weights:
                    if loss not in weights:
                        weights[loss] = 0.0
                        assumptions.append(Assumption(f"weight of loss {loss!r} (in the card, not named by the note)", "0 (left out)",
                                                      "[I] vaultlab rule: a loss the note does not name is not part of the objective"))
            components["losses"] = Resolved(weights, "note", where)
        elif component == "input":
            components["input"] = Resolved("+".join(mapped), "note", where)  # several inputs = one multi-channel input
        elif component == "supervision":
            components["supervision"] = Resolved(mapped, "note", where)
        else:
            components[component] = Resolved(mapped[0], "note", where)
    return backbones, unmapped_fields, dropped


def _lookup_qualified(vocabulary, category: str, item: str, label: str, assumptions: list[Assumption]):
    """``"ResNet-50 (ImageNet pre-trained)"``: the term without its bracketed qualifier, when that is
    known; the qualifier is not acted on, and the assumptions say so."""
    bare, qualifier = split_qualifier(item)
    if not qualifier or not bare:
        return None
    found = vocabulary.lookup(category, bare)
    if found.canonical is None:
        return None
    lowered = qualifier.casefold()
    weights = (" — pretrained weights come only from `--pretrained PATH` (nothing is downloaded); without it the "
               "backbone trains from scratch") if any(w in lowered for w in ("pretrain", "pre-train", "pre train", "imagenet")) else ""
    assumptions.append(Assumption(f"{label}: {item!r}", f"{found.canonical}; {qualifier} is not acted on",
                                  f"[I] vaultlab reads bracketed text as a qualifier that changes nothing it builds{weights}"))
    return found


def _config_layers(settings: dict, base_id: str, stem: str, card: MethodCard | None) -> list[tuple[dict, bool]]:
    """Vault config overrides, lowest first: ``overrides`` (every experiment), then
    ``experiments.<card id>``, ``experiments.<note stem>``, ``experiments.<experiment id>``."""
    layers: list[tuple[dict, bool]] = []
    shared = settings.get("overrides")
    if isinstance(shared, dict):
        layers.append((shared, True))
    per_experiment = settings.get("experiments")
    if isinstance(per_experiment, dict):
        for name in (card.id if card else None, stem, base_id):
            layer = per_experiment.get(name) if name else None
            if isinstance(layer, dict):
                layers.append((layer, False))
    return layers


@dataclass
class _OverrideTarget:
    """The mutable state one note's overrides are applied to."""

    card: MethodCard | None
    catalog: Catalog
    components: dict[str, Resolved]
    hparams: dict[str, dict[str, Resolved]]
    protocol: Resolved
    unmapped_fields: set[str]
    assumptions: list[Assumption]

    def apply(self, key: str, value: Any, source: str, detail: str, skip_unknown_to_card: bool = False) -> None:
        known_losses = set(self.catalog.vocabulary.ids("losses"))
        if key.startswith("losses."):
            loss = self.catalog.vocabulary.lookup("losses", key.partition(".")[2]).canonical
            key = f"losses.{loss}" if loss else key
        kind = classify_key(key, self.card, known_losses)
        if kind is None:
            if skip_unknown_to_card and (key in self.catalog.hparam_keys or key.partition(".")[2] in self.catalog.hparam_keys):
                return  # a vault-wide setting meant for another card's hyper-parameter
            raise OverrideError(unknown_key_message(key, self.card))
        what, profile, name = kind
        if what == "protocol":
            if not isinstance(value, str) or not value.strip():
                raise OverrideError(f"protocol expects a name like 'lodo:D3', not {value!r}")
            self.protocol = Resolved(value.strip(), source, detail)
        elif what == "component":
            self.components[name] = Resolved(self._component_value(name, value), source, detail)
            self.unmapped_fields.discard(name)
        elif what == "loss_weight":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise OverrideError(f"{key} expects a number (the loss weight), not {value!r}")
            current = self.components.get("losses")
            weights = dict(current.value) if current else {}
            weights[name] = float(value)
            self.components["losses"] = Resolved(weights, source, f"{detail} ({key})")
        else:
            profiles = [profile] if profile else list(self.hparams)
            for target in profiles:
                values = self.hparams.setdefault(target, {})
                current = values[name].value if name in values else _any_profile_value(self.hparams, name)
                declared = declared_hparams(self.card)
                typed = coerce_declared(key, value, declared[name]) if declared and name in declared else coerce_like(key, value, current)
                values[name] = Resolved(typed, source, detail)

    def _component_value(self, name: str, value: Any) -> Any:
        category = COMPONENT_CATEGORIES[name]
        items = value if isinstance(value, list) else [value]
        if name != "losses" and name != "supervision" and len(items) != 1:
            raise OverrideError(f"{name} expects one value, not {value!r}")
        mapped = []
        for item in items:
            found = self.catalog.vocabulary.lookup(category, str(item))
            if found.canonical is None:
                close = f" closest: {', '.join(found.suggestions)}." if found.suggestions else ""
                raise OverrideError(f"{name}: {item!r} is not a known {category} term.{close}")
            mapped.append(found.canonical)
        if name == "losses":  # the one weight rule, as for the note's Loss field
            card_weights = self.card.components.get("losses", {}) if self.card else {}
            weights = {loss: card_weights.get(loss, 1.0) for loss in mapped}
            if not compose.composes_losses(self.card):
                weights.update({loss: 0.0 for loss in card_weights if loss not in weights})
            return weights
        if name == "supervision":
            return mapped
        return mapped[0]


def _any_profile_value(hparams: dict[str, dict[str, Resolved]], name: str) -> Any:
    for values in hparams.values():
        if name in values:
            return values[name].value
    return None


def _runnable(note: Note, card: MethodCard | None, unmapped_fields: set[str], unmapped: list[UnmappedTerm],
              found_blockers: list[compose.Blocker]) -> tuple[bool, str]:
    if card is None:
        method = _method_text(note)
        nothing = "the note names no backbone or loss to compose from"
        return False, f"no method card matches (Method: {method!r}) and {nothing}" if method else f"no method card matches and {nothing}"
    if not note.usable:
        return False, "the note has errors (see diagnostics)"
    if unmapped_fields:
        terms = "; ".join(repr(t.term) + (f" (closest: {', '.join(t.suggestions)})" if t.suggestions else "") for t in unmapped)
        return False, f"unknown terms: {terms} — fix the note, add them to the vocabulary, or run --without them"
    if not registry.known("recipe", card.recipe):
        close = registry.closest(card.recipe, registry.names("recipe"))
        return False, f"recipe {card.recipe!r} is not implemented" + (f" (closest: {', '.join(close)})" if close else "")
    if found_blockers:
        return False, "cannot build " + "; ".join(map(str, found_blockers)) + " — or run --without them"
    return True, ""


# -- the whole vault ----------------------------------------------------------------------------

def resolve_vault(notes: list[Note], catalog: Catalog, settings: dict | None = None, *,
                  earlier: Sequence[Experiment] = ()) -> list[Experiment]:
    """Every paper note → an Experiment, ids made unique, duplicate papers flagged on both notes.
    Notes are taken in relpath order so ids and suffixes do not depend on scan order.

    ``earlier``: experiments this function resolved, with the same catalog and settings, from
    earlier versions of these notes (a sync's notes before it wrote vaultlab's properties into
    them). A note that differs from its earlier version only in properties the resolver does not
    read (``NOT_READ``) and in where its body starts is not resolved again: its experiment is the
    earlier one with the note's lines moved (``_moved``)."""
    papers = sorted((n for n in notes if n.is_paper), key=lambda n: n.relpath)
    before = {exp.note_relpath: exp for exp in earlier if "_resolved" in exp.__dict__}
    with paused_gc():
        experiments = []
        for note in papers:
            exp = _moved(before[note.relpath], note) if note.relpath in before else None
            if exp is None:
                exp = resolve_note(note, catalog, settings)
            exp.__dict__["_resolved"] = (note, exp.id, len(exp.diagnostics))  # before ids are made unique
            experiments.append(exp)
    _make_ids_unique(experiments)
    _flag_duplicate_papers(experiments, {n.relpath: n for n in papers})
    return experiments


# Properties vaultlab's write-back sets (vault.sync, writeback) and ``resolve_note`` never reads.
NOT_READ = frozenset({"progress", "experiment", "status", "dateread", "last_run"})
_LINE_DETAIL = re.compile(r"line (\d+)")


def _moved(exp: Experiment, note: Note) -> Experiment | None:
    """``exp``, resolved from an earlier version of ``note``, as ``resolve_note(note)`` would
    return it, when the two versions differ only in ``NOT_READ`` properties and in the line
    their body starts on; else None. Every body line it cites (diagnostics, unmapped terms,
    "line N" sources) moves with the body; frontmatter lines stay (checked equal)."""
    old, _, _ = exp.__dict__["_resolved"]
    if (old.relpath != note.relpath or old.title != note.title or old.is_paper != note.is_paper
            or old.usable != note.usable or not note.has_frontmatter or not old.has_frontmatter):
        return None
    shift, end = note.frontmatter_end - old.frontmatter_end, old.frontmatter_end
    if [(label, key, value, line + shift) for label, key, value, line in _summary_rows(old)] != _summary_rows(note):
        return None
    for mine, theirs in ((old.frontmatter, note.frontmatter), (old.frontmatter_lines, note.frontmatter_lines)):
        mine, theirs = dict(mine), dict(theirs)
        for key in NOT_READ:
            mine.pop(key, None)
            theirs.pop(key, None)
        if mine != theirs:
            return None
    if any("(line " in a.what for a in exp.assumptions):  # a --without term's line: resolve afresh
        return None
    _, base_id, own = exp.__dict__["_resolved"]

    def line(n: int) -> int:
        return n + shift if n > end else n

    def resolved(r: Resolved) -> Resolved:
        if r.source != "note" or not r.detail.startswith("line "):
            return r
        return Resolved(r.value, r.source, _LINE_DETAIL.sub(lambda m: f"line {line(int(m.group(1)))}", r.detail, count=1))

    copy = object.__new__(Experiment)  # a shallow copy; the containers it may change are copied below
    copy.__dict__.update(exp.__dict__)
    copy.id, copy.duplicates = base_id, []
    copy.aliases, copy.variants, copy.assumptions, copy.blockers = list(exp.aliases), list(exp.variants), list(exp.assumptions), list(exp.blockers)
    copy.variant_components = {name: dict(values) for name, values in exp.variant_components.items()}
    copy.hparams = {profile: dict(values) for profile, values in exp.hparams.items()}
    copy.paper_keys = set(exp.paper_keys)
    copy.diagnostics = [d if d.path != note.relpath or not d.line else Diagnostic(d.path, line(d.line), d.severity, d.message, d.hint)
                        for d in exp.diagnostics[:own]]
    copy.unmapped = [u._replace(line=line(u.line)) for u in exp.unmapped]
    copy.components = {name: resolved(r) for name, r in exp.components.items()}
    copy.protocol = resolved(exp.protocol)
    return copy


def _summary_rows(note: Note) -> list[tuple[str, str, str, int]]:
    """(label, key, value, line) of each Quick Summary field, without building its records."""
    rows = note.__dict__.get("_summary")
    if type(rows) is Rows:
        return list(rows)
    return [(f.label, f.key, f.value, f.line) for f in note.summary]


def _make_ids_unique(experiments: list[Experiment]) -> None:
    """The first note (by relpath) keeps its id; later ones get ``-2``, ``-3``…"""
    taken: set[str] = set()
    for exp in experiments:
        candidate, n = exp.id, 1
        while candidate in taken:
            n += 1
            candidate = f"{exp.id}-{n}"
        if candidate != exp.id:
            exp.diagnostics.append(Diagnostic(exp.note_relpath, 0, "warning",
                                              f"experiment id {exp.id!r} is taken by another note; this one is {candidate!r}"))
            exp.id = candidate
        taken.add(candidate)


def _flag_duplicate_papers(experiments: list[Experiment], notes: dict[str, Note]) -> None:
    """Notes sharing a paper key (DOI, arXiv id, URL, title) form one group: each member lists the
    others in ``duplicates``, and the group gets one warning, on its first note, not one per pair
    (pairwise warnings grew quadratically with a vault's repeated titles)."""
    parent = list(range(len(experiments)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_with: dict[PaperKey, int] = {}
    for i, exp in enumerate(experiments):
        for key in sorted(exp.paper_keys):
            j = first_with.setdefault(key, i)
            if j != i:
                parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(experiments)):
        groups.setdefault(find(i), []).append(i)
    for members in groups.values():
        if len(members) < 2:
            continue
        ids = [experiments[i].id for i in members]
        for i in members:
            experiments[i].duplicates = Peers(ids, experiments[i].id)
        first = experiments[members[0]]
        shared = sorted({key[0] for key in _group_keys(experiments, members)})
        paths = [experiments[i].note_relpath for i in members]
        listed = ", ".join(paths[:5]) + (f" … and {len(paths) - 5} more" if len(paths) > 5 else "")
        first.diagnostics.append(Diagnostic(first.note_relpath, _identifier_line(notes[first.note_relpath], shared[0]) if shared else 0,
                                            "warning", f"same paper in {len(members)} notes: {listed} (same {', '.join(shared)})",
                                            "merge them, or keep them: they run as separate experiments"))


def _group_keys(experiments: list[Experiment], members: list[int]) -> set[PaperKey]:
    """Keys held by at least two members of a group."""
    seen: set[PaperKey] = set()
    shared: set[PaperKey] = set()
    for i in members:
        keys = experiments[i].paper_keys
        shared |= keys & seen
        seen |= keys
    return shared


def _identifier_line(note: Note, kind: str) -> int:
    keys = {"doi": ("doi",), "arxiv": ("arxiv", "paper_url", "url"), "url": ("paper_url", "url", "pdf_url", "arxiv_url"), "title": ("title",)}[kind]
    for key in keys:
        if key in note.frontmatter_lines:
            return note.frontmatter_lines[key]
    return 0

