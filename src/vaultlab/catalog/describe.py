"""``vaultlab show``: every resolved value of an experiment with the place it came from."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from vaultlab.catalog.cards import Catalog
from vaultlab.catalog.resolve import Experiment, Resolved
from vaultlab import registry


def format_value(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}×{format_value(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    if value is None:
        return "—"
    return str(value)


def _where(resolved: Resolved) -> str:
    return f"{resolved.source} ({resolved.detail})" if resolved.detail else resolved.source


def describe_rows(exp: Experiment) -> list[tuple[str, str, str]]:
    """``(name, value, source)`` rows in the order ``vaultlab show`` prints them."""
    rows: list[tuple[str, str, str]] = [
        ("note", exp.note_relpath, ""),
        ("card", f"{exp.card.id} (matched by {exp.matched_by})" if exp.card else "—", exp.card.source if exp.card else ""),
        ("recipe", exp.recipe or "—", ""),
        ("runnable", "yes" if exp.runnable else f"no: {exp.runnable_reason}", ""),
    ]
    rows += [(name, format_value(r.value), _where(r)) for name, r in exp.components.items()]
    if exp.variants:
        backbone = exp.components.get("backbone")
        rows.append(("variants", ", ".join(exp.variants), backbone.source if backbone else "card"))
    rows.append(("protocol", format_value(exp.protocol.value), _where(exp.protocol)))
    for profile, values in exp.hparams.items():
        rows += [(f"{profile}.{key}", format_value(r.value), _where(r)) for key, r in values.items()]
    return rows


def describe_experiment(exp: Experiment) -> Group:
    """A rich renderable: resolved values with sources, assumptions with provenance, unmapped terms, problems."""
    values = Table(title=f"{exp.id} — {exp.title}", title_justify="left", show_lines=False)
    values.add_column("setting", style="bold")
    values.add_column("value")
    values.add_column("from", style="dim")
    for name, value, source in describe_rows(exp):
        values.add_row(escape(name), escape(value), escape(source))
    parts: list[Any] = [values]

    if exp.assumptions:
        assumptions = Table(title="assumptions (choices the paper does not pin down)", title_justify="left")
        assumptions.add_column("what", style="bold")
        assumptions.add_column("choice")
        assumptions.add_column("provenance", style="dim")
        for a in exp.assumptions:
            assumptions.add_row(escape(a.what), escape(a.choice), escape(a.provenance))
        parts.append(assumptions)
    if exp.unmapped:
        lines = [f"  line {t.line}: {t.term!r}" + (f" — closest: {', '.join(t.suggestions)}" if t.suggestions else "")
                 for t in exp.unmapped]
        parts.append(Text("unmapped terms:\n" + "\n".join(lines), style="yellow"))
    if exp.blockers:
        parts.append(Text("cannot build:\n" + "\n".join(f"  {b}" for b in exp.blockers), style="yellow"))
    if exp.duplicates:
        parts.append(Text(f"same paper as: {', '.join(exp.duplicates)}", style="yellow"))
    if exp.diagnostics:
        parts.append(Text("\n".join(str(d) for d in exp.diagnostics), style="yellow"))
    return Group(*parts)


def describe_catalog(catalog: Catalog) -> Group:
    """``vaultlab methods``: the cards (recipe, components, protocol, whether the recipe exists) and the vocabulary."""
    cards = Table(title=f"{len(catalog.cards)} method card(s)", title_justify="left")
    for column in ("card", "paper", "recipe", "components", "protocol", "variants", "from"):
        cards.add_column(column, overflow="fold")
    for card_id in sorted(catalog.cards):
        card = catalog.cards[card_id]
        paper = f"{card.paper.title} ({card.paper.venue}{', ' if card.paper.venue and card.paper.year else ''}{card.paper.year or ''})" if card.paper.title else "—"
        recipe = escape(card.recipe) if registry.known("recipe", card.recipe) else f"{escape(card.recipe)} [yellow](not implemented yet)[/yellow]"
        components = "; ".join(f"{name}: {format_value(value)}" for name, value in card.components.items())
        cards.add_row(escape(card.id), escape(paper), recipe, escape(components), escape(card.default_protocol),
                      escape(", ".join(card.variants) or "—"), escape(card.source))
    vocabulary = Table(title="vocabulary (canonical id ← note spellings)", title_justify="left")
    vocabulary.add_column("category", style="bold")
    vocabulary.add_column("id")
    vocabulary.add_column("aliases", overflow="fold")
    for category, entries in catalog.vocabulary.entries.items():
        for canonical in sorted(entries):
            vocabulary.add_row(category, escape(canonical), escape(", ".join(entries[canonical].aliases)))
    components = Table(title="registered components (what a note may name and vaultlab can build)", title_justify="left")
    components.add_column("kind", style="bold")
    components.add_column("ids", overflow="fold")
    for kind in registry.KINDS:
        components.add_row(kind, escape(", ".join(registry.names(kind))))
    return Group(cards, vocabulary, components)
