"""What the commands print: a summary that stays short on a 10,000-note vault, and tables that read
at 80 columns.

``sync``/``collect`` print counts, then only the files that changed and the problems, grouped: one
line per kind of problem with the places it occurs (the first few unless ``--verbose``); a group
of notes on the same paper is one warning (the catalog reports it once). The full per-note table is ``list``'s job.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

SHOWN = 5  # places listed per grouped problem, and "not runnable" ids per reason, unless verbose
SHOWN_CHANGED = 20  # changed files listed unless verbose
SHOWN_KINDS = 20  # kinds of warning, and reasons a note is not runnable, listed unless verbose
_COLOURS = {"error": "red", "warning": "yellow"}


def _plain(console: Console, text: str, style: str | None = None) -> None:
    console.print(escape(text) if style is None else f"[{style}]{escape(text)}[/{style}]", highlight=False, soft_wrap=True)


def _listing(items: Sequence[str], shown: int | None) -> str:
    head = list(items if shown is None else items[:shown])
    more = len(items) - len(head)
    return ", ".join(head) + (f" … and {more} more" if more > 0 else "")


def group_diagnostics(diagnostics: Iterable) -> list[tuple[object, list]]:
    """[(first diagnostic, every diagnostic with the same severity, message and hint)], in first-seen order."""
    groups: dict[tuple[str, str, str], list] = {}
    for d in diagnostics:
        groups.setdefault((d.severity, d.message, d.hint), []).append(d)
    return [(members[0], members) for members in groups.values()]


def print_diagnostics(diagnostics, console: Console, *, verbose: bool = False) -> int:
    """Problems, one line per kind, errors first; the first ``SHOWN_KINDS`` kinds of warning unless
    ``verbose`` (which adds info and every place). Returns how many were errors or warnings."""
    shown = 0
    groups = group_diagnostics(d for d in diagnostics if verbose or d.severity != "info")
    groups.sort(key=lambda group: group[0].severity != "error")  # stable: first-seen order within
    warnings = 0
    for first, members in groups:
        shown += len(members) if first.severity in ("error", "warning") else 0
        if first.severity != "error" and not verbose:
            warnings += 1
            if warnings > SHOWN_KINDS:
                continue
        colour = _COLOURS.get(first.severity, "dim")
        if len(members) == 1:
            _plain(console, str(first), colour)
            continue
        places = [f"{d.path}:{d.line}" if d.line else d.path for d in members]
        tail = f" — {first.hint}" if first.hint else ""
        _plain(console, f"{first.severity}: {first.message} — {len(members)} places: {_listing(places, None if verbose else SHOWN)}{tail}", colour)
    if warnings > SHOWN_KINDS:
        _plain(console, f"… and {warnings - SHOWN_KINDS} more kinds of warning (--verbose lists them all)", "yellow")
    return shown


def duplicate_groups(experiments) -> list[list[str]]:
    """Groups of experiment ids on the same paper (each group once, members sorted)."""
    seen: set[str] = set()
    groups = []
    for exp in experiments:
        if exp.duplicates and exp.id not in seen:
            group = sorted({exp.id, *exp.duplicates})
            seen.update(group)
            groups.append(group)
    return groups


def print_sync_summary(ws, plan, *, written: Sequence[str], conflicts: Sequence[str], dry_run: bool, console: Console,
                       verbose: bool = False) -> int:
    """Counts, changed files, not-runnable reasons, duplicate groups and grouped problems; returns
    the number of errors and warnings."""
    experiments = ws.experiments
    runnable = sum(e.runnable for e in experiments)
    groups = duplicate_groups(experiments)
    counts = [f"{len(experiments)} paper notes", f"{runnable} runnable", f"{len(experiments) - runnable} not runnable"]
    if groups:
        counts.append(f"{len(groups)} duplicate-paper group(s)")
    counts.append(f"{len(plan.runs)} finished run(s)")
    _plain(console, f"{ws.root.name}: " + " · ".join(counts))

    limit = None if verbose else SHOWN_CHANGED
    changed = plan.changes.changed if dry_run else list(written)
    verb = "would change" if dry_run else "written"
    if changed:
        _plain(console, f"{len(changed)} file(s) {verb}:")
        before = {n.relpath: n for n in ws.notes}
        after = {n.relpath: n for n in plan.notes_after}
        for relpath in changed[:limit]:
            what = describe_change(before.get(relpath), after.get(relpath))
            _plain(console, f"  {relpath}" + (f" ({what})" if what else ""))
        if limit is not None and len(changed) > limit:
            _plain(console, f"  … and {len(changed) - limit} more (--verbose lists them all)")
    else:
        _plain(console, f"0 files {verb} (nothing changed)")
    if plan.plots and dry_run:
        _plain(console, f"{len(plan.plots)} run(s) would get their plots drawn")
    for path in conflicts:
        _plain(console, f"{path}: changed on disk while vaultlab was writing; not written — run again", "red")

    reasons: dict[str, list[str]] = {}
    for exp in experiments:
        if not exp.runnable:
            reasons.setdefault(exp.runnable_reason, []).append(exp.id)
    ranked = sorted(reasons.items(), key=lambda item: (-len(item[1]), item[0]))
    for reason, ids in ranked if verbose else ranked[:SHOWN_KINDS]:
        _plain(console, f"not runnable ({len(ids)}): {reason} — {_listing(ids, None if verbose else SHOWN)}", "dim")
    if not verbose and len(ranked) > SHOWN_KINDS:
        _plain(console, f"… and {len(ranked) - SHOWN_KINDS} more reasons (`vaultlab list` shows every note)", "dim")
    return print_diagnostics([*ws.diagnostics, *plan.diagnostics], console, verbose=verbose)


def describe_change(before, after) -> str:
    """"experiment, progress, Results rows": what a planned change does to a note (its properties
    that differ, and whether the body changed); "" for files that are not notes."""
    if before is None or after is None or before is after:
        return ""
    keys = [k for k in after.frontmatter if before.frontmatter.get(k, None) != after.frontmatter[k] or k not in before.frontmatter]
    body_changed = before.text[before.__dict__.get("_body", (0, 0))[0]:] != after.text[after.__dict__.get("_body", (0, 0))[0]:]
    return ", ".join(keys + ([("Results rows" if after.is_paper else "body")] if body_changed else []))


def show_experiment_table(ws, console: Console) -> None:
    """Every experiment, one row each, at 80 columns: words wrap, never break in the middle (a note
    path too long for its column ends in "…")."""
    table = Table(title=f"{len(ws.experiments)} paper note(s) in {ws.root.name}", title_justify="left")
    table.add_column("experiment / note", overflow="ellipsis", max_width=26)
    table.add_column("card", no_wrap=True)
    table.add_column("runnable", no_wrap=True)
    table.add_column("notes", overflow="ellipsis", ratio=1, min_width=16)
    for exp in ws.experiments:
        extra = []
        if not exp.runnable:
            extra.append(exp.runnable_reason)
        elif exp.unmapped:
            extra.append("unmapped: " + ", ".join(u.term for u in exp.unmapped))
        if exp.duplicates:
            extra.append("same paper as " + _listing(exp.duplicates, 3))
        if exp.variants:
            extra.append("variants: " + ", ".join(exp.variants))
        table.add_row(f"[bold]{escape(exp.id)}[/bold]\n[dim]{escape(exp.note_relpath)}[/dim]", escape(exp.card.id if exp.card else "—"),
                      "[green]yes[/green]" if exp.runnable else "[yellow]no[/yellow]", escape("; ".join(extra)))
    console.print(table)


def print_plan(plans, console: Console) -> None:
    first = plans[0]
    table = Table(title=escape(f"plan: {first.experiment_id} — {first.paper_title}"), title_justify="left", show_header=False)
    table.add_column("what", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_row("note", escape(first.note_relpath))
    table.add_row("recipe", f"{first.recipe} (card {first.card_id})")
    table.add_row("components", escape(", ".join(f"{k}={v}" for k, v in first.components.items() if k != "variant")))
    table.add_row("variants", escape(", ".join(dict.fromkeys(p.variant for p in plans if p.variant)) or "—"))
    folds = list(dict.fromkeys(p.protocol for p in plans))
    table.add_row("dataset / protocol", escape(f"{first.dataset} / {first.protocol_group or first.protocol}"
                  + (f" ({len(folds)} folds: {', '.join(folds)})" if len(folds) > 1 else "")))
    table.add_row("profile", escape(f"{first.profile}: " + ", ".join(f"{k}={v}" for k, v in sorted(first.hp.items()))))
    table.add_row("seeds", ", ".join(map(str, first.seeds)))
    table.add_row("device", first.device)
    table.add_row("weights", escape(first.pretrained or "none — training from scratch (nothing is downloaded)"))
    table.add_row("assumptions", f"{len(first.assumptions)} (see `vaultlab show {first.experiment_id}`)")
    table.add_row("runs", ", ".join(p.run_id(s) for p in plans for s in p.seeds))
    console.print(table)


def print_run_summary(all_outcomes, console: Console) -> None:
    """Test metrics per protocol and arm, mean ± std over seeds (n in the row), within 80 columns."""
    from vaultlab.metrics import aggregate_seeds
    from vaultlab.report.result_rows import arm_order

    def cell(agg) -> str:
        mean, std, n = agg
        return f"{mean:.1f}" if n == 1 else f"{mean:.1f}±{std:.1f}"

    table = Table(title="test split, dev-EER threshold, % (mean±std over n seeds)", title_justify="left")
    table.add_column("protocol · arm", overflow="fold")
    table.add_column("n", justify="right", no_wrap=True)
    for column in ("HTER", "AUC", "ACER", "APCER", "BPCER"):
        table.add_column(column, no_wrap=True, justify="right")
    for plan, outcomes in all_outcomes:
        label = plan.protocol + (f" ({plan.variant})" if plan.variant else "")
        for arm in arm_order(outcomes[0].metrics):
            agg = aggregate_seeds([o.metrics[arm]["dev-eer"] for o in outcomes])
            table.add_row(escape(f"{label} · {arm}"), str(agg["hter"][2]), *(cell(agg[k]) for k in ("hter", "auc", "acer", "apcer", "bpcer")))
    console.print(table)
