"""Write-back as a change set: every byte vaultlab would write into the vault, planned from the
notes and the finished run directories, reviewed (diff, ``--check``) and then applied.

One plan covers all of it, so ``sync``, ``collect`` and ``run`` share the diff, ``--dry-run`` and
conflict handling of ``write.ChangeSet``:

- paper notes: vaultlab's properties (``vault.sync.plan_sync``), then the Results rows and
  ``last_run`` of the runs that belong to them;
- one result note per finished run (re-created when the user deleted it);
- ``Dashboard.md`` and ``Runs.base``, rendered from the notes *as this plan leaves them* (a second
  sync then has nothing to change).

Nothing here depends on the clock: ``last_run`` is the newest run's end time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaultlab.runrecord import RunRecord, finished_records
from vaultlab.runs import shown_path
from vaultlab.vault.edit import replace_region, set_properties, upsert_results_rows
from vaultlab.vault.model import Diagnostic, Note
from vaultlab.vault.note import parse_note_bytes
from vaultlab.vault.config import runs_dir_of
from vaultlab.vault.sync import plan_sync
from vaultlab.vault.write import ChangeSet, safe_path
from vaultlab.workspace import Workspace

RESULT_REGION = "result"
# The result note's "reproduce" command names the vault as ".": an absolute path would differ on
# every machine that syncs the vault, and each collector would rewrite every result note.
PORTABLE_VAULT = Path(".")


@dataclass
class PlacedRun:
    """A finished run and the paper note it belongs to."""

    record: RunRecord
    note: Note
    experiment_id: str  # the note's experiment id now (it may differ from the one the run was planned under)
    outcome: Any  # runner.RunOutcome, rebuilt from the run directory


@dataclass
class VaultPlan:
    changes: ChangeSet
    diagnostics: list[Diagnostic] = field(default_factory=list)
    runs: list[PlacedRun] = field(default_factory=list)
    plots: list[tuple[Any, str]] = field(default_factory=list)  # (outcome, attachment folder) whose PNGs are missing
    notes_after: list[Note] = field(default_factory=list)
    # relpath → bytes of generated files known without reading them (written by the sync before this plan)
    written: Mapping[str, bytes] = field(default_factory=dict)


def plan_vault(ws: Workspace, *, fix_text: bool = False, today: dt.date | None = None,
               written: Mapping[str, bytes] | None = None) -> VaultPlan:
    """Everything a sync/collect would write, as a change set (nothing is written here).
    ``written``: generated files (relpath → bytes) to take as holding those bytes, not read."""
    ids = {e.note_relpath: e.id for e in ws.experiments}
    changes, diagnostics = plan_sync(ws.root, ws.notes, ws.config, ids, fix_text=fix_text, today=today)
    plan = VaultPlan(changes, diagnostics, written=written or {})
    plan.runs = place_runs(ws, ids, plan.diagnostics)
    if plan.runs:
        plan_result_notes(ws, plan)
        plan_results_rows(ws, plan)
    plan.notes_after = notes_after(ws.notes, changes)
    plan_generated(ws, plan)
    return plan


def place_runs(ws: Workspace, ids: dict[str, str], diagnostics: list[Diagnostic]) -> list[PlacedRun]:
    """Finished runs with their note: the note the run was planned from, else the note whose
    experiment id the run carries. Runs of notes no longer in the vault are counted, not rendered."""
    records, problems = finished_records(ws.root)
    runs_folder = shown_path(ws.root, ws.config.runs_dir or runs_dir_of(ws.root))
    diagnostics.extend(Diagnostic(runs_folder, 0, "warning", problem, "the run is skipped") for problem in problems)
    if not records:
        return []
    notes = {n.relpath: n for n in ws.notes if n.is_paper}
    by_id = {e.id: e.note_relpath for e in ws.experiments}
    placed, orphans = [], []
    for record in records:
        relpath = record.note_relpath if record.note_relpath in notes else by_id.get(record.experiment_id)
        note = notes.get(relpath) if relpath else None
        if note is None:
            orphans.append(record.run_id)
            continue
        placed.append(PlacedRun(record, note, ids.get(note.relpath, record.experiment_id),
                                record.outcome(note.relpath, note.title or note.stem)))
    if orphans:
        diagnostics.append(Diagnostic(runs_folder, 0, "info", f"{len(orphans)} finished run(s) belong to no paper note of this vault "
                                      f"(e.g. {orphans[0]}); their result notes are not written"))
    return placed


def paper_link(note_relpath: str) -> str:
    """A vault-absolute wikilink: valid whatever ``newLinkFormat`` the vault uses."""
    return f"[[{note_relpath.removesuffix('.md')}]]"


def plan_result_notes(ws: Workspace, plan: VaultPlan) -> None:
    from vaultlab.report.result_note import plot_relpaths, render_result_body, result_note_relpath, result_properties

    siblings: dict[tuple[str, str, str], list] = {}  # the seeds of one plan: each result note's per-seed table
    for placed in plan.runs:
        siblings.setdefault(_plan_key(placed), []).append(placed.outcome)
    for placed in plan.runs:
        outcome, link = placed.outcome, paper_link(placed.note.relpath)
        seeds = sorted(siblings[_plan_key(placed)], key=lambda o: o.seed)
        rel = result_note_relpath(ws.config.output_folder.strip("/"), placed.record.run_id)
        attachments = ws.config.attachment_folder(rel)
        plots = plot_relpaths(placed.record.run_id, attachments)
        if not all((ws.root / p).is_file() for p in plots.values()):
            plan.plots.append((outcome, attachments))
        old = _read_generated(ws, plan, rel)
        try:
            text = old.decode("utf-8") if old is not None else "---\n---\n"
            text = set_properties(text, result_properties(outcome, link), ws.config.types)
            text = replace_region(text, RESULT_REGION, render_result_body(outcome, link, plots, PORTABLE_VAULT, seeds, ws.root,
                                                                              _thread_sensitivity(ws, outcome)))
        except (ValueError, TypeError) as exc:  # a result note the user broke: say so, leave it alone
            plan.diagnostics.append(Diagnostic(rel, 0, "error", f"cannot update the result note: {exc}",
                                               "fix it, or delete it to let vaultlab write it again"))
            continue
        plan.changes.add(rel, text.encode("utf-8"), old)


def _plan_key(placed: PlacedRun) -> tuple[str, str, str]:
    """Runs of one plan: same note, same configuration (the spec without the seed), same protocol."""
    return placed.note.relpath, placed.record.configuration, placed.record.protocol


def plan_results_rows(ws: Workspace, plan: VaultPlan) -> None:
    """Per paper note and dataset label (dataset, protocol group, variant): the rows of its latest
    configuration (the spec without seed and fold), aggregated over that configuration's seeds and
    folds, in place of vaultlab's earlier rows; ``last_run`` = the newest run's end time."""
    from vaultlab.report.result_note import dataset_label

    groups: dict[tuple[str, str], list[PlacedRun]] = {}
    for placed in plan.runs:
        record = placed.record
        label = dataset_label(record.dataset, record.protocol_group, record.variant)
        groups.setdefault((placed.note.relpath, label), []).append(placed)
    rows_by_note: dict[str, list[dict[str, str]]] = {}
    for (note_rel, label), members in sorted(groups.items()):
        newest: dict[str, str] = {}
        for placed in members:
            config = placed.record.configuration
            newest[config] = max(newest.get(config, ""), placed.record.ended)
        latest = max(newest, key=lambda c: (newest[c], c))
        chosen = sorted((p for p in members if p.record.configuration == latest), key=lambda p: (p.record.protocol, p.record.seed))
        outcomes = [p.outcome for p in chosen]
        rows_by_note.setdefault(note_rel, []).extend(result_rows(ws, outcomes[0].plan, outcomes, label))
    last_run = {}
    for placed in plan.runs:
        last_run[placed.note.relpath] = max(last_run.get(placed.note.relpath, ""), placed.record.ended)
    notes = {p.note.relpath: p.note for p in plan.runs}
    prefix = f"[[{ws.config.output_folder.strip('/')}/results/"
    for note_rel, rows in rows_by_note.items():
        note = notes[note_rel]
        if not note.usable:
            plan.diagnostics.append(Diagnostic(note_rel, 0, "error", "results not written: the note has errors",
                                               "fix them; the results stay in the run directories"))
            continue
        datasets = {r["Dataset"] for r in rows}

        def owned(cells: dict[str, str], datasets: set[str] = datasets) -> bool:
            return prefix in cells.get("result", "") and cells.get("dataset", "").strip() in datasets

        planned = plan.changes.planned.get(note_rel)
        text = planned.new.decode("utf-8") if planned is not None else note.raw_text
        try:
            text = upsert_results_rows(text, rows, owned=owned)
            if last_run[note_rel]:
                text = set_properties(text, {"last_run": last_run[note_rel]}, ws.config.types)
        except (ValueError, TypeError) as exc:
            plan.diagnostics.append(Diagnostic(note_rel, 0, "error", f"results not written: {exc}"))
            continue
        plan.changes.add(note_rel, text.encode("utf-8"), note.raw_text.encode("utf-8"), note.digest)


def result_rows(ws: Workspace, plan, outcomes, dataset: str) -> list[dict[str, str]]:
    """Results-table rows for one protocol (all its folds and seeds): the method against every other arm."""
    from vaultlab.report import result_rows as rows

    return rows.result_rows(plan, outcomes, dataset, f"{ws.config.output_folder.strip('/')}/results")


def notes_after(notes: list[Note], changes: ChangeSet) -> list[Note]:
    """The notes as the change set leaves them (re-parsed only where it changes them)."""
    if not changes.planned:
        return notes
    after = []
    for note in notes:
        planned = changes.planned.get(note.relpath)
        if planned is None or planned.new == planned.old:
            after.append(note)
        else:  # property edits leave the body alone: its parse is reused
            after.append(parse_note_bytes(planned.new, note.path, note.relpath, same_body_as=note))
    return after


def latest_results(ws: Workspace, runs: list[PlacedRun]) -> dict[str, list[dict[str, Any]]]:
    """experiment id → newest finished run per (protocol, variant), for the dashboard."""
    latest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for placed in runs:
        record = placed.record
        main = record.metrics["method"]["dev-eer"]
        entry = {"run_id": record.run_id, "protocol": record.protocol, "variant": record.variant or "", "seed": record.seed,
                 "hter": main["hter"], "auc": main["auc"], "acer": main["acer"], "date": record.ended,
                 "note": f"{ws.output_folder}/results/{record.run_id}.md"}
        key = (placed.experiment_id, record.protocol, entry["variant"])
        if key not in latest or (entry["date"], entry["run_id"]) > (latest[key]["date"], latest[key]["run_id"]):
            latest[key] = entry
    out: dict[str, list[dict[str, Any]]] = {}
    for (exp_id, _, _), entry in sorted(latest.items()):
        out.setdefault(exp_id, []).append(entry)
    return out


def plan_generated(ws: Workspace, plan: VaultPlan) -> None:
    """Dashboard.md (a managed region, user text around it kept) and Runs.base (vaultlab's own file)."""
    from vaultlab.report.dashboard import DASHBOARD_REGION, render_dashboard, render_dashboard_region, render_runs_base

    dashboard_rel = f"{ws.output_folder}/Dashboard.md"
    views = dict(results_folder=f"{ws.output_folder}/results", runs_base=f"{ws.output_folder}/Runs.base")
    results = latest_results(ws, plan.runs)
    old = _read_generated(ws, plan, dashboard_rel)
    try:
        if old is None:
            new = render_dashboard(ws.experiments, plan.notes_after, results, **views)
        else:  # keep what the user wrote around vaultlab's region
            region = render_dashboard_region(ws.experiments, plan.notes_after, results, **views)
            new = replace_region(old.decode("utf-8"), DASHBOARD_REGION, region)
    except ValueError as exc:
        plan.diagnostics.append(Diagnostic(dashboard_rel, 0, "error", f"not written: {exc}"))
    else:
        plan.changes.add(dashboard_rel, new.encode("utf-8"), old)
    base_rel = f"{ws.output_folder}/Runs.base"
    plan.changes.add(base_rel, render_runs_base(f"{ws.output_folder}/results").encode("utf-8"), _read_generated(ws, plan, base_rel))


def draw_missing_plots(ws: Workspace, plan: VaultPlan) -> list[str]:
    """Draw the PNGs of runs whose plots are missing (matplotlib is imported only then)."""
    if not plan.plots:
        return []
    from vaultlab.report.result_note import write_plots

    drawn = []
    for outcome, attachments in plan.plots:
        drawn.extend(write_plots(outcome, ws.root, attachments).values())
    return drawn


def _thread_sensitivity(ws: Workspace, outcome) -> str:
    card = ws.catalog.cards.get(outcome.plan.card_id)
    return card.thread_sensitivity if card is not None else ""


def _read_generated(ws: Workspace, plan: VaultPlan, relpath: str) -> bytes | None:
    if relpath in plan.written:
        return plan.written[relpath]
    path = safe_path(ws.root, relpath)
    return path.read_bytes() if path.exists() else None


def written_notes(ws: Workspace, plan: VaultPlan, written: list[str], ahead: NextSync | None = None) -> list[Note]:
    """The notes among the files ``plan`` wrote, as written: the paper notes it edited
    (``plan.notes_after``) and the generated notes it created (the dashboard, result notes; parsed
    already in ``ahead`` when it assumed these writes)."""
    done = set(written)
    created = ahead.created if ahead is not None and ahead.written == written else _created_notes(ws, plan, written)
    return [n for n in plan.notes_after if n.relpath in done] + created


def _created_notes(ws: Workspace, plan: VaultPlan, written: list[str]) -> list[Note]:
    """The generated notes among ``written`` (not paper notes of ``plan``), parsed as planned."""
    known = {n.relpath for n in plan.notes_after}
    return [parse_note_bytes(plan.changes.planned[relpath].new, ws.root / relpath, relpath)
            for relpath in written if relpath not in known and relpath.endswith(".md")]


@dataclass
class NextSync:
    """The sync after this one, planned on the notes as this one leaves them, for a given set of
    written files (``remember_outcome``; ``collect`` computes it while the renames wait on the disk)."""

    written: list[str]  # the files it assumes this sync wrote
    created: list[Note]  # generated notes among them, parsed as written
    notes: dict[str, Note]  # relpath → every note as the next sync reads it
    workspace: Workspace
    plan: VaultPlan


def next_sync(ws: Workspace, plan: VaultPlan, written: list[str]) -> NextSync:
    """The next sync's workspace and plan, exactly as ``open_workspace`` + ``plan_vault`` would
    compute them after ``plan`` wrote ``written``: the notes as written (``plan.notes_after``, plus
    the generated notes it created), each written generated file taken as its planned bytes."""
    from vaultlab.catalog import resolve_vault

    known = {n.relpath for n in plan.notes_after}
    created = _created_notes(ws, plan, written)
    notes = {n.relpath: n for n in plan.notes_after}
    notes.update((n.relpath, n) for n in created)
    notes_now = [notes[relpath] for relpath in sorted(notes)]
    experiments = resolve_vault(notes_now, ws.catalog, ws.config.raw, earlier=ws.experiments)  # only what the writes changed is resolved again
    seen: set[Diagnostic] = set()
    merged = []
    for d in [*ws.config.diagnostics, *(d for n in notes_now for d in n.diagnostics), *ws.catalog.diagnostics,
              *(d for e in experiments for d in e.diagnostics)]:
        if d not in seen:  # as open_workspace merges them
            seen.add(d)
            merged.append(d)
    ws_now = Workspace(ws.root, ws.config, notes_now, ws.catalog, experiments, merged)
    generated = {relpath: plan.changes.planned[relpath].new for relpath in written if relpath not in known}
    return NextSync(list(written), created, notes, ws_now, plan_vault(ws_now, written=generated))


def remember_outcome(ws: Workspace, plan: VaultPlan, result: Any, before: Any, ahead: NextSync | None = None) -> None:
    """Record what the next sync would print, when it would change nothing (``vault.memo``).

    ``before``: the vault's ``memo.State`` taken before ``ws`` was read; ``result``: the applied
    change set's ``ApplyReport``. When this sync wrote files, the next sync (``next_sync``; ``ahead``
    when it was computed for exactly the files written) is recorded only if it plans no change.
    Nothing is recorded when the vault, re-stated now, is not ``before`` plus these writes."""
    from vaultlab.vault import memo
    from vaultlab.vault.config import VaultConfig

    if result.conflicts or result.errors or plan.plots or plan.diagnostics:
        memo.forget(ws.root)
        return
    after = memo.take(ws.root, VaultConfig.load(ws.root))
    if after.key() != before.after_writes(result.stats).key():
        memo.forget(ws.root)  # something else changed the vault meanwhile: the next sync reads it
        return
    markdown = {relpath for relpath in after.files if relpath.endswith(".md")}  # what the next sync reads as notes
    if not result.written:
        if plan.changes.changed or markdown != {n.relpath for n in ws.notes}:
            memo.forget(ws.root)
            return
        memo.save(ws.root, after, memo.Outcome.of(ws.experiments, len(plan.runs), ws.diagnostics))
        return
    if ahead is None or ahead.written != result.written:
        ahead = next_sync(ws, plan, result.written)
    if markdown != ahead.notes.keys():  # a note that could not be read, say: the next sync reads it again
        memo.forget(ws.root)
        return
    ws_now, plan_now = ahead.workspace, ahead.plan
    if plan_now.changes.changed or plan_now.plots:
        memo.forget(ws.root)  # not idempotent here: the next sync does the work itself
        return
    memo.save(ws.root, after, memo.Outcome.of(ws_now.experiments, len(plan_now.runs), [*ws_now.diagnostics, *plan_now.diagnostics]))
