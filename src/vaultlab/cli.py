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

from vaultlab.cli_common import VaultOption, err, fail, find_vault, open_vault, out
from vaultlab.cli_sweep import register as register_sweep_commands

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="rich",
                  help="Obsidian paper notes on face anti-spoofing → runnable experiments → results back in the vault.")


def print_diagnostics(diagnostics, *, show_info: bool = False) -> int:
    """Problems on stderr, one line per kind; returns how many were errors or warnings."""
    from vaultlab.cli_report import print_diagnostics as print_grouped

    return print_grouped(diagnostics, err, verbose=show_info)


# -- sync -----------------------------------------------------------------------------------------

@app.command()
def sync(
    vault: Annotated[Optional[Path], typer.Argument(help="The vault folder (default: $VAULTLAB_VAULT, else the nearest folder holding .obsidian/).", show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print unified diffs; write nothing.")] = False,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if a sync would change anything; write nothing.")] = False,
    fix_text: Annotated[bool, typer.Option("--fix-text", help="Repair mojibake in frontmatter values (e.g. 'ðŸ“š To Read' → '📚 To Read').")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List every changed file and every place of a problem; show informational notes (BOM, CRLF).")] = False,
) -> None:
    """Map every paper note to a recipe, update progress, write finished runs and the dashboard (prints a summary; `list` shows every note)."""
    from vaultlab.collect import collect

    raise typer.Exit(collect(find_vault(vault), dry_run=dry_run, check=check, fix_text=fix_text, verbose=verbose, console=out))


@app.command("collect")
def collect_(
    vault: Annotated[Optional[Path], typer.Argument(help="The vault folder (default: $VAULTLAB_VAULT, else the nearest folder holding .obsidian/).", show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print unified diffs; write nothing.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List every changed file and every place of a problem.")] = False,
) -> None:
    """Write finished runs into the notes (result notes, Results rows, dashboard) under the vault lock; workers use `run --no-write`."""
    from vaultlab.collect import collect

    raise typer.Exit(collect(find_vault(vault), dry_run=dry_run, verbose=verbose, console=out))


# -- list / show / methods --------------------------------------------------------------------------

@app.command("list")
def list_(
    vault: VaultOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the experiments the vault's paper notes map to."""
    ws = open_vault(find_vault(vault))
    if as_json:
        rows = [{"id": e.id, "note": e.note_relpath, "card": e.card.id if e.card else None, "recipe": e.recipe,
                 "runnable": e.runnable, "variants": e.variants, "protocol": e.protocol.value if e.protocol else None,
                 "unmapped": [u.term for u in e.unmapped], "duplicates": list(e.duplicates)} for e in ws.experiments]
        sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        return
    from vaultlab.cli_report import show_experiment_table

    show_experiment_table(ws, out)
    print_diagnostics(ws.diagnostics)


@app.command()
def show(
    experiment: Annotated[str, typer.Argument(help="Experiment id, note file name, numeric prefix, alias or card id.")],
    vault: VaultOption = None,
) -> None:
    """Show the resolved experiment: every value with where it came from, and the assumptions."""
    from vaultlab.catalog import describe_experiment, find_experiment

    ws = open_vault(find_vault(vault))
    try:
        exp = find_experiment(experiment, ws.experiments)
    except LookupError as exc:
        raise fail(str(exc).strip("'\""), 2) from None
    out.print(describe_experiment(exp))


@app.command()
def methods(vault: VaultOption = None) -> None:
    """List the method cards, their components and the vocabulary."""
    from vaultlab.catalog import describe_catalog

    ws = open_vault(find_vault(vault))
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
    no_write: Annotated[bool, typer.Option("--no-write", help="Write run directories only, no notes (a worker; `vaultlab collect` writes them). Also VAULTLAB_NO_WRITE=1.")] = False,
) -> None:
    """Reproduce a paper note's method: train, evaluate honestly, write the numbers into the vault."""
    from vaultlab.cli_report import print_plan
    from vaultlab.planning import PlanError, plan_runs
    from vaultlab.workspace import run_and_collect, writes_disabled

    root = find_vault(vault)
    ws = open_vault(root)
    try:
        plans = plan_runs(ws, experiment, protocol=protocol, profile=profile, seeds=seeds, sets=set_ or [], device=device,
                          variants=variant, dataset=dataset, pretrained=str(pretrained) if pretrained else None,
                          without=without)
    except PlanError as exc:
        raise fail(str(exc), 2) from None
    print_plan(plans, err)
    write = not (no_write or writes_disabled())
    if dry_run:
        err.print("nothing trained, nothing written (`vaultlab collect --dry-run` shows what writing the finished runs would change)",
                  highlight=False, markup=False)
        return
    from vaultlab.data.protocols import ProtocolError
    from vaultlab.engine.core import TrainingDiverged
    from vaultlab.metrics import MetricsError
    from vaultlab.recipes.base import RecipeError

    try:
        if nproc > 1:  # every seed as one torchrun job (worker processes write run dirs; the collector writes notes)
            from vaultlab.sweep import run_distributed

            raise typer.Exit(run_distributed(ws, plans, nproc, err, quiet=quiet, write=write))
        code = run_and_collect(ws, plans, resume=resume, force=force, console=err, quiet=quiet, write=write)
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
