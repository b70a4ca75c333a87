"""``vaultlab sweep`` and ``vaultlab status``: many runs at once, and where they stand."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from vaultlab.cli_common import VaultOption, err, fail, find_vault, out


def sweep(
    experiments: Annotated[list[str], typer.Argument(help="Experiment ids (or note names, prefixes, aliases, card ids).", show_default=False)],
    vault: VaultOption = None,
    protocol: Annotated[Optional[list[str]], typer.Option(help="Protocols to sweep (repeatable; default: each note's own). A real dataset's protocol sweeps its folds.")] = None,
    variant: Annotated[Optional[list[str]], typer.Option(help="Variants to sweep (repeatable; default: all the note names).")] = None,
    seeds: Annotated[Optional[str], typer.Option(help="Comma-separated seeds, e.g. 0,1,2 (default: each card's).")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="key=value, or key=v1,v2 for a grid (repeatable: the product).")] = None,
    profile: Annotated[str, typer.Option(help="quick | paper (or another profile of the cards).")] = "quick",
    dataset: Annotated[str, typer.Option(help="synthfas or a prepared real dataset.")] = "synthfas",
    device: Annotated[str, typer.Option(help="auto | cpu | cuda | mps")] = "auto",
    pretrained: Annotated[Optional[Path], typer.Option(help="Local weights to initialise the backbone.")] = None,
    executor: Annotated[str, typer.Option(help="local (worker processes here) or slurm (a submitit job array).")] = "local",
    jobs: Annotated[Optional[int], typer.Option(help="local: concurrent workers (default: one per GPU, else 1).", min=1)] = None,
    gpus: Annotated[Optional[str], typer.Option(help="local: GPU ids the workers share, e.g. 0,1,2,3.")] = None,
    nproc: Annotated[int, typer.Option(help="Processes per run (torchrun DDP; one GPU each on CUDA).", min=1)] = 1,
    max_attempts: Annotated[int, typer.Option(help="Attempts per point before a failed/interrupted/stale one is left alone.", min=1)] = 3,
    partition: Annotated[Optional[str], typer.Option(help="slurm: partition (else slurm.partition in .vaultlab/config.yaml).")] = None,
    gpus_per_node: Annotated[Optional[int], typer.Option(help="slurm: GPUs per job.")] = None,
    cpus_per_task: Annotated[Optional[int], typer.Option(help="slurm: CPUs per task.")] = None,
    mem_gb: Annotated[Optional[float], typer.Option(help="slurm: memory per job, GB.")] = None,
    time_min: Annotated[Optional[int], typer.Option("--time", help="slurm: time limit per job, minutes.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the grid and each point's state; run nothing.")] = False,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the points and write the notes (--no-wait: submit and return).")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    mlflow: Annotated[Optional[str], typer.Option("--mlflow", help="Also log finished runs to MLflow: a tracking URI, a folder, or 'local' (<vault>/.vaultlab/mlruns).")] = None,
) -> None:
    """Run experiments × protocols × variants × seeds (× --set grids); skip what is done, retry what failed."""
    from vaultlab.sweep import build_grid, decide, finish, print_grid, run_points
    from vaultlab.cli_common import open_vault
    from vaultlab.planning import PlanError

    if executor not in ("local", "slurm"):
        raise fail(f"--executor {executor!r}: use local or slurm", 2)
    root = find_vault(vault)
    ws = open_vault(root)
    try:
        points = build_grid(ws, experiments, protocols=protocol, variants=variant, seeds=seeds, sets=set_ or [], profile=profile,
                            dataset=dataset, device=device, pretrained=str(pretrained) if pretrained else None)
    except PlanError as exc:
        raise fail(str(exc), 2) from None
    decisions = {p.run_id: decide(p, max_attempts) for p in points}
    print_grid(points, decisions, out if dry_run else err)
    if dry_run:
        return
    todo = [p for p in points if decisions[p.run_id].action == "run"]
    if todo:
        runner = _executor(executor, ws, jobs=jobs, gpus=gpus, nproc=nproc, device=device,
                           slurm={"partition": partition, "gpus_per_node": gpus_per_node, "cpus_per_task": cpus_per_task,
                                  "mem_gb": mem_gb, "timeout_min": time_min})
        if not wait:
            runner.submit(todo)
            err.print(f"submitted {len(todo)} point(s) to {runner.name}; follow them with `vaultlab status`, "
                      "and run this sweep again to write the notes")
            return
        try:
            seconds = run_points(todo, runner, err, quiet=quiet)
        except KeyboardInterrupt:
            if runner.name == "slurm":
                err.print("[yellow]interrupted — the Slurm jobs keep running (`vaultlab status` follows them); "
                          "run the sweep again to collect them[/yellow]")
            else:
                err.print("[yellow]interrupted — unfinished points are marked 'interrupted'; run the sweep again to resume them[/yellow]")
            raise typer.Exit(130) from None
        err.print(f"{len(todo)} point(s) in {seconds:.1f} s")
    code = finish(ws, points, todo, err, out)
    if mlflow is not None:
        _log_to_mlflow(points, mlflow, root)
    raise typer.Exit(code)


def _log_to_mlflow(points, value: str, root: Path) -> None:
    from vaultlab.tracking import TrackingError, log_runs, tracking_uri

    uri = tracking_uri(value, root)
    try:
        created = log_runs(points, uri)
    except TrackingError as exc:
        raise fail(str(exc), 2) from None
    err.print(f"MLflow: {len(created)} run(s) logged to {uri}")


def _executor(kind: str, ws, *, jobs, gpus, nproc, device, slurm):
    if kind == "local":
        from vaultlab.sweep import local_executor

        try:
            return local_executor(jobs, nproc, device, gpus)
        except ValueError as exc:
            raise fail(str(exc), 2) from None
    config = ws.config.raw.get("slurm") or {}
    if not isinstance(config, dict):
        raise fail(".vaultlab/config.yaml: slurm: must be a mapping of settings", 2)
    from vaultlab.executors.slurm import SlurmConfigError, SlurmExecutor, preemption_signal, slurm_parameters

    try:
        preemption_signal(config)
        params = slurm_parameters(config, slurm)
    except SlurmConfigError as exc:
        raise fail(str(exc), 2) from None
    from vaultlab.runs import RunStore

    return SlurmExecutor(folder=RunStore(ws.root).root.parent / "submitit", parameters=params, nproc=nproc)


def status(
    vault: VaultOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    active: Annotated[bool, typer.Option("--active", help="Only queued, running and stale runs.")] = False,
) -> None:
    """List runs with their state, the age of their heartbeat and where they run."""
    from vaultlab.runs import RunStore
    from vaultlab.sweep import where

    runs = RunStore(find_vault(vault)).all()
    rows = []
    for run in runs:
        st = run.status()
        state = run.state()
        if active and state not in ("queued", "running", "stale"):
            continue
        rows.append({"run": run.run_id, "state": state, "heartbeat_age_s": round(time.time() - float(st.get("heartbeat", 0)), 1)
                     if st.get("heartbeat") else None, "where": where(st), "attempts": st.get("attempts"),
                     "progress": st.get("progress") or st.get("error") or "", "host": st.get("host"), "pid": st.get("pid"),
                     "slurm_job": st.get("slurm_job")})
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table(title=f"{len(rows)} run(s)", title_justify="left")
    table.add_column("run", overflow="fold", ratio=3)
    table.add_column("state", no_wrap=True)
    table.add_column("beat", no_wrap=True, justify="right")
    table.add_column("where", overflow="fold", ratio=1)
    table.add_column("progress", overflow="fold", ratio=2)
    colours = {"done": "green", "running": "cyan", "queued": "cyan", "failed": "red", "stale": "red", "interrupted": "yellow"}
    for r in rows:
        colour = colours.get(r["state"], "white")
        table.add_row(escape(r["run"]), f"[{colour}]{r['state']}[/{colour}]", _age(r["heartbeat_age_s"]), escape(r["where"]),
                      escape(str(r["progress"])))
    out.print(table)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"


def register(app: typer.Typer) -> None:
    app.command()(sweep)
    app.command()(status)
