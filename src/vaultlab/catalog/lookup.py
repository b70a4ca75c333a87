"""``vaultlab run <query>``: find one experiment by id, file stem, numeric prefix, alias or card id."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable

from vaultlab.catalog.resolve import Experiment

_LEADING_DIGITS = re.compile(r"^(\d+)")


def _fold(text: str) -> str:
    return text.strip().casefold()


def _prefix_number(exp: Experiment) -> int | None:
    found = _LEADING_DIGITS.match(exp.note_stem)
    return int(found.group(1)) if found else None


def _forms(query: str) -> list[tuple[str, Callable[[Experiment], bool]]]:
    """The accepted forms of a query, most specific first; the first form that matches anything decides."""
    q = _fold(query)
    q_path = q.removesuffix(".md")
    forms: list[tuple[str, Callable[[Experiment], bool]]] = [
        ("id", lambda e: _fold(e.id) == q),
        ("file", lambda e: _fold(e.note_stem) == q_path or _fold(e.note_relpath).removesuffix(".md") == q_path),
    ]
    if q.isdigit():
        forms.append(("number", lambda e: _prefix_number(e) == int(q)))
    forms += [
        ("alias", lambda e: any(_fold(alias) == q for alias in e.aliases)),
        ("card", lambda e: e.card is not None and e.card.id == q),
    ]
    return forms


def experiment_names(exp: Experiment) -> list[str]:
    """Every name ``find_experiment`` accepts for ``exp``."""
    names = [exp.id, exp.note_stem, *exp.aliases]
    number = _LEADING_DIGITS.match(exp.note_stem)
    if number:
        names.append(number.group(1))
    if exp.card is not None:
        names.append(exp.card.id)
    return names


def find_experiment(query: str, experiments: list[Experiment]) -> Experiment:
    """The one experiment ``query`` names, or ``LookupError`` saying what matched or what is close."""
    for form, matches in _forms(query):
        found = [e for e in experiments if matches(e)]
        if len(found) == 1:
            return found[0]
        if found:
            ids = ", ".join(e.id for e in found)
            raise LookupError(f"{query!r} is ambiguous ({form} of {len(found)} experiments: {ids}); use one of the ids")
    by_fold = {_fold(name): name for e in experiments for name in experiment_names(e)}
    close = [by_fold[n] for n in difflib.get_close_matches(_fold(query), sorted(by_fold), n=5, cutoff=0.5)]
    hint = f" Close: {', '.join(close)}." if close else ""
    known = ", ".join(e.id for e in experiments) or "none (run `vaultlab sync` first?)"
    raise LookupError(f"no experiment {query!r}.{hint} Experiments: {known}")
