"""``vaultlab/Dashboard.md`` and ``vaultlab/Runs.base``: the vault-wide views vaultlab generates.

Everything vaultlab writes into the dashboard sits inside ``%% vaultlab:begin dashboard %%`` …
``%% vaultlab:end dashboard %%``; the caller writes it with the vault writer's ``replace_region`` so
text the user adds outside survives. Output depends only on the inputs (no clock, sorted rows), so a
second sync writes the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from vaultlab.catalog.resolve import Experiment
from vaultlab.resources import templates_dir
from vaultlab.vault.model import Note
from vaultlab.vault.regions import begin_marker, end_marker
from vaultlab.vault.text import repair_text

DASHBOARD_REGION = "dashboard"
RESULTS_FOLDER = "vaultlab/results"
RUNS_BASE = "vaultlab/Runs.base"
# result-note properties shown by the Dataview block and the base, in column order
RESULT_FIELDS = ("experiment", "protocol", "hter", "auc", "acer", "seed")
AVERAGED_FIELDS = ("hter", "auc")
SAME_PAPER_SHOWN = 3  # duplicate-paper links per dashboard row
_DISPLAY_NAMES = {"hter": "HTER (%)", "auc": "AUC (%)", "acer": "ACER (%)"}

LinkFn = Callable[[str, str], str]  # (vault-relative target path incl. extension, label) → link text


def wikilink(target_relpath: str, label: str) -> str:
    """``[[vault/path|label]]``: a vault-absolute wikilink resolves whatever ``newLinkFormat`` says, so
    the dashboard uses it as is (callers may pass another ``LinkFn``)."""
    target = target_relpath.removesuffix(".md")
    return f"[[{target}|{label}]]" if label and label != target else f"[[{target}]]"


def region_markers(name: str = DASHBOARD_REGION) -> tuple[str, str]:
    return begin_marker(name), end_marker(name)


def _cell(text: str) -> str:
    # a "|" ends a table cell, also inside [[target|label]]; Obsidian reads "\|" there as the alias bar
    return " ".join(str(text).split()).replace("|", "\\|")


def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(str(templates_dir())), undefined=StrictUndefined,
                       keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True, autoescape=False)


def progress_cell(note: Note) -> str:
    percent = note.progress
    if percent is None:
        stored = note.frontmatter.get("progress")
        percent = stored if isinstance(stored, int) and not isinstance(stored, bool) else None
    if percent is None:
        return "—"
    return f'<progress value="{percent}" max="100"></progress> {percent} %'


def status_cell(note: Note) -> str:
    status = note.frontmatter.get("status")
    if not isinstance(status, str) or not status.strip():
        return "—"
    return repair_text(status).strip()


def latest_result(records: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The newest record by its ``date`` property (ISO text); the list order breaks ties."""
    if not records:
        return None
    return max(enumerate(records), key=lambda item: (str(item[1].get("date") or ""), item[0]))[1]


def _number(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "—"


def result_cell(records: list[Mapping[str, Any]], link: LinkFn, results_folder: str) -> str:
    latest = latest_result(records)
    if latest is None:
        return "—"
    target = latest.get("note") or f"{results_folder}/{latest.get('run_id', 'unknown')}.md"
    what = " ".join(str(p) for p in (latest.get("protocol", ""), f"seed {latest['seed']}" if "seed" in latest else "") if p)
    text = f"HTER {_number(latest.get('hter'))} % · AUC {_number(latest.get('auc'))} % ({link(str(target), what or 'result')})"
    return text + (f" · {len(records)} runs" if len(records) > 1 else "")


def runnable_cell(exp: Experiment | None) -> str:
    if exp is None:
        return "—"
    if exp.unmapped:
        terms = "; ".join(f"{t.term!r}" + (f" (closest: {', '.join(t.suggestions)})" if t.suggestions else "") for t in exp.unmapped)
        return f"no — unmapped: {terms}"
    return "yes" if exp.runnable else f"no — {exp.runnable_reason}"


def dashboard_rows(experiments: list[Experiment], notes: list[Note], results_by_experiment: Mapping[str, list[Mapping[str, Any]]],
                   link: LinkFn, results_folder: str = RESULTS_FOLDER) -> list[dict[str, str]]:
    by_note = {exp.note_relpath: exp for exp in experiments}
    by_id = {exp.id: exp for exp in experiments}
    rows = []
    for note in sorted((n for n in notes if n.is_paper), key=lambda n: n.relpath):
        exp = by_note.get(note.relpath)
        title = note.title or note.stem
        if exp is not None:
            method = f"{exp.method or '?'} → `{exp.card.id}`" if exp.card else f"{exp.method or '?'} → no card"
            label = f"{exp.id}: {title}" if title != note.stem else exp.id
            warnings = _same_paper(exp.duplicates, by_id, link)
        else:
            method, label, warnings = "—", title, []
        rows.append({key: _cell(value) for key, value in {
            "paper": link(note.relpath, label),
            "status": status_cell(note),
            "progress": progress_cell(note),
            "method": method,
            "runnable": runnable_cell(exp),
            "result": result_cell(list(results_by_experiment.get(exp.id, []) if exp else []), link, results_folder),
            "warnings": "⚠ " + "; ".join(warnings) if warnings else "",
        }.items()})
    return rows


def _same_paper(duplicates: list[str], by_id: Mapping[str, Experiment], link: LinkFn) -> list[str]:
    """Links to the first few notes on the same paper, then a count: a row stays short however many
    notes repeat a paper."""
    shown = [f"same paper as {link(by_id[d].note_relpath, d)}" for d in duplicates[:SAME_PAPER_SHOWN] if d in by_id]
    if len(duplicates) > SAME_PAPER_SHOWN:
        shown.append(f"and {len(duplicates) - SAME_PAPER_SHOWN} more notes")
    return shown


def render_dashboard_region(experiments: list[Experiment], notes: list[Note], results_by_experiment: Mapping[str, list[Mapping[str, Any]]],
                            config_link_fn: LinkFn = wikilink, results_folder: str = RESULTS_FOLDER, runs_base: str = RUNS_BASE) -> str:
    """The text between the dashboard markers (what ``replace_region`` puts there)."""
    return _environment().get_template("dashboard.md.j2").render(
        rows=dashboard_rows(experiments, notes, results_by_experiment, config_link_fn, results_folder),
        dataview_fields=RESULT_FIELDS, results_folder=results_folder, runs_base=runs_base)


def render_dashboard(experiments: list[Experiment], notes: list[Note], results_by_experiment: Mapping[str, list[Mapping[str, Any]]],
                     config_link_fn: LinkFn = wikilink, results_folder: str = RESULTS_FOLDER, runs_base: str = RUNS_BASE) -> str:
    """A whole new ``Dashboard.md``: a title the user may change, then the managed region.

    ``results_by_experiment[id]`` holds the result-note properties of that experiment's runs
    (``hter``/``auc`` in percent, ``protocol``, ``seed``, ``date``, and ``note`` or ``run_id`` for the link)."""
    begin, end = region_markers()
    body = render_dashboard_region(experiments, notes, results_by_experiment, config_link_fn, results_folder, runs_base)
    return f"# vaultlab dashboard\n\n{begin}\n{body}{end}\n"


def render_runs_base(results_folder: str = RESULTS_FOLDER) -> str:
    """``Runs.base``: Obsidian Bases table over the result notes, grouped by experiment, HTER/AUC averaged."""
    return _environment().get_template("runs.base.j2").render(
        results_folder=results_folder, order=RESULT_FIELDS, averaged=AVERAGED_FIELDS, display_names=_DISPLAY_NAMES)
