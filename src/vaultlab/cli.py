"""The ``vaultlab`` command line: one thin function per command.

Exit codes: 0 ok, 1 problems found (or ``--check`` would change files), 2 usage errors.
``sync``, ``list``, ``show`` and ``methods`` never import torch; ``run`` does.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from vaultlab.cli_common import VaultOption, err, fail, find_vault, out
from vaultlab.cli_sweep import register as register_sweep_commands

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="rich",
                  help="Obsidian paper notes on face anti-spoofing → runnable experiments → results back in the vault.")
def print_diagnostics(diagnostics, *, show_info: bool = False) -> int:
    """Print problems one line each; returns how many were errors or warnings."""
    shown = 0
    for d in diagnostics:
        if d.severity == "info" and not show_info:
            continue
        colour = {"error": "red", "warning": "yellow"}.get(d.severity, "dim")
        err.print(f"[{colour}]{escape(str(d))}[/{colour}]", highlight=False, soft_wrap=True)
        shown += d.severity in ("error", "warning")
    return shown


# -- sync -----------------------------------------------------------------------------------------

@app.command()
def sync(
    vault: Annotated[Path, typer.Argument(help="The vault folder.", show_default=False)] = Path("."),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print unified diffs; write nothing.")] = False,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if a sync would change anything; write nothing.")] = False,
    fix_text: Annotated[bool, typer.Option("--fix-text", help="Repair mojibake in frontmatter values (e.g. 'ðŸ“š To Read' → '📚 To Read').")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Also show informational notes (BOM, CRLF).")] = False,
) -> None:
    """Read every paper note, map it to a recipe, update progress, experiment ids and the dashboard."""
    from vaultlab.workspace import open_workspace, sync_workspace

    root = find_vault(vault)
    ws = open_workspace(root)
    report = sync_workspace(ws, dry_run=dry_run or check, fix_text=fix_text)
    show_experiment_table(ws)
    problems = print_diagnostics(ws.diagnostics + report.diagnostics, show_info=verbose)
    if dry_run or check:
        if report.diff:
            out.print(report.diff, highlight=False, markup=False, soft_wrap=True)
        out.print(f"{len(report.changed)} file(s) would change" + ("" if not report.changed else ": " + ", ".join(report.changed)))
        if check and report.changed:
            raise typer.Exit(1)
    else:
        out.print(f"{len(report.changed)} file(s) written" + (": " + ", ".join(report.changed) if report.changed else " (nothing changed)"))
    if report.conflicts:
        raise typer.Exit(1)
    if problems and any(d.severity == "error" for d in ws.diagnostics + report.diagnostics):
        raise typer.Exit(1)


def show_experiment_table(ws) -> None:
    table = Table(title=f"{len(ws.experiments)} paper note(s) in {ws.root.name}", title_justify="left")
    table.add_column("experiment", no_wrap=True, style="bold")
    table.add_column("note", no_wrap=True, overflow="ellipsis", max_width=28)
    for column in ("method → card", "runnable", "notes"):
        table.add_column(column, overflow="fold")
    for exp in ws.experiments:
        why = exp.runnable_reason if not exp.runnable else ""
        extra = []
        if exp.unmapped:
            extra.append("unmapped: " + ", ".join(u.term for u in exp.unmapped))
        if exp.duplicates:
            extra.append("duplicate of " + ", ".join(exp.duplicates))
        if exp.variants:
            extra.append("variants: " + ", ".join(exp.variants))
        table.add_row(escape(exp.id), escape(exp.note_relpath), escape(f"{exp.method or '?'} → {exp.card.id if exp.card else '—'}"),
                      "[green]yes[/green]" if exp.runnable else f"[yellow]no[/yellow] {escape(why)}", escape("; ".join(extra)))
    out.print(table)


# -- list / show / methods --------------------------------------------------------------------------

@app.command("list")
def list_(
    vault: VaultOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the experiments the vault's paper notes map to."""
    from vaultlab.workspace import open_workspace

    ws = open_workspace(find_vault(vault))
    if as_json:
        rows = [{"id": e.id, "note": e.note_relpath, "card": e.card.id if e.card else None, "recipe": e.recipe,
                 "runnable": e.runnable, "variants": e.variants, "protocol": e.protocol.value if e.protocol else None,
                 "unmapped": [u.term for u in e.unmapped], "duplicates": e.duplicates} for e in ws.experiments]
        sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        return
    show_experiment_table(ws)
    print_diagnostics(ws.diagnostics)


@app.command()
def show(
    experiment: Annotated[str, typer.Argument(help="Experiment id, note file name, numeric prefix, alias or card id.")],
    vault: VaultOption = None,
) -> None:
    """Show the resolved experiment: every value with where it came from, and the assumptions."""
    from vaultlab.catalog import describe_experiment, find_experiment
    from vaultlab.workspace import open_workspace

    ws = open_workspace(find_vault(vault))
    try:
        exp = find_experiment(experiment, ws.experiments)
    except LookupError as exc:
        raise fail(str(exc).strip("'\""), 2) from None
    out.print(describe_experiment(exp))


@app.command()
def methods(vault: VaultOption = None) -> None:
    """List the method cards, their components and the vocabulary."""
    from vaultlab.catalog import describe_catalog
    from vaultlab.workspace import open_workspace

    ws = open_workspace(find_vault(vault))
    out.print(describe_catalog(ws.catalog))
    print_diagnostics(ws.catalog.diagnostics)


# -- run --------------------------------------------------------------------------------------------

@app.command()
def run(
    experiment: Annotated[str, typer.Argument(help="Experiment id (e.g. 003_distillation), note file name, numeric prefix, alias or card id.")],
    vault: VaultOption = None,
    protocol: Annotated[Optional[str], typer.Option(help="intra | lodo:<domain> | unseen-attack:<pai> | adapt:<src>-><tgt> | dataset protocols.")] = None,
    profile: Annotated[str, typer.Option(help="quick (CPU-sized) or paper (the paper's input size and schedule).")] = "quick",
    seeds: Annotated[Optional[str], typer.Option(help="Comma-separated seeds, e.g. 0,1,2 (default: the card's).")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override a hyper-parameter: key=value (repeatable).")] = None,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda | cuda:1 | mps")] = "auto",
    variant: Annotated[Optional[list[str]], typer.Option(help="Run only these variants (default: all the note names).")] = None,
    dataset: Annotated[str, typer.Option(help="synthfas (embedded) or a prepared real dataset (see `vaultlab data list`).")] = "synthfas",
    pretrained: Annotated[Optional[Path], typer.Option(help="Local weights to initialise the backbone (checked by shape).")] = None,
    without: Annotated[Optional[list[str]], typer.Option("--without", help="Run without this note term, e.g. --without 'rPPG loss' (repeatable); the result note says so.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue interrupted runs from their last checkpoint.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Retrain even when an identical run is done.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan; train nothing, write nothing.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    nproc: Annotated[int, typer.Option(help="Processes per run through torchrun (DDP: gloo on CPU, NCCL with one GPU each).", min=1)] = 1,
) -> None:
    """Reproduce a paper note's method: train, evaluate honestly, write the numbers into the vault."""
    from vaultlab.workspace import PlanError, open_workspace, plan_runs, print_plan, run_and_write_back

    root = find_vault(vault)
    ws = open_workspace(root)
    try:
        plans = plan_runs(ws, experiment, protocol=protocol, profile=profile, seeds=seeds, sets=set_ or [], device=device,
                          variants=variant, dataset=dataset, pretrained=str(pretrained) if pretrained else None,
                          without=without)
    except PlanError as exc:
        raise fail(str(exc), 2) from None
    print_plan(plans, err)
    if dry_run:
        return
    from vaultlab.data.protocols import ProtocolError
    from vaultlab.engine.core import TrainingDiverged
    from vaultlab.metrics import MetricsError
    from vaultlab.recipes.base import RecipeError

    try:
        if nproc > 1:  # every seed as one torchrun job (worker processes write run dirs; notes are written here)
            from vaultlab.sweep import run_distributed

            raise typer.Exit(run_distributed(ws, plans, nproc, err, quiet=quiet))
        code = run_and_write_back(ws, plans, resume=resume, force=force, console=err, quiet=quiet)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted — the run is marked 'interrupted'; continue it with --resume[/yellow]")
        raise typer.Exit(130) from None
    except (PlanError, RecipeError, ProtocolError, TrainingDiverged, MetricsError) as exc:
        raise fail(f"{experiment}: {exc} (the run directory keeps what was done)") from None
    raise typer.Exit(code)


def _mount_data_app() -> None:
    try:
        from vaultlab.cli_data import data_app
    except ImportError:  # pragma: no cover - the data commands ship with the package
        return
    app.add_typer(data_app, name="data", help="Datasets: preview SynthFAS, prepare and list real datasets.")


_mount_data_app()
register_sweep_commands(app)


def main() -> None:
    app()
