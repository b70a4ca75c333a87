"""``vaultlab sweep``: experiments × protocols (folds) × variants × seeds × ``--set`` grids.

Each point is one run id (the resolved spec's hash, ``RunPlan.run_id``), so a repeated sweep finds its
points again: done points are skipped, a point running elsewhere is left alone, and failed,
interrupted or stale points run again until they have had ``max_attempts`` attempts. Points train in
worker processes or Slurm jobs (``vaultlab.executors``) that only write run directories; the sweep
process alone hands them to the collector (``vaultlab collect``), once, at the end (``write_results``).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from vaultlab.runs import RunDir, RunStore

RETRYABLE = ("failed", "interrupted", "stale")


@dataclass
class Point:
    plan: object  # runner.RunPlan
    seed: int
    run: RunDir
    vault_root: Path
    setting: str = ""  # the --set values of this grid point, e.g. "lr=0.01"
    seen_attempts: int | None = None  # the run's attempt count when this sweep decided to run it

    def take(self, **where) -> bool:
        """Mark the point queued for this sweep; False when another sweep took it since ``decide``."""
        return self.run.count_attempt(expect=self.seen_attempts, **where) is not None

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def group(self) -> tuple[str, str, str]:
        """What mean ± std is taken over: seeds (and the folds of one protocol)."""
        variant = self.plan.variant or ""
        return (self.plan.experiment_id, self.plan.protocol_group or self.plan.protocol,
                " ".join(x for x in (variant, self.setting) if x))


@dataclass
class Decision:
    action: str  # "run" | "skip" | "busy" | "gave up"
    why: str = ""


# -- the grid -----------------------------------------------------------------------------------

def split_values(text: str) -> list[str]:
    """``a,b,[c,d]`` → ``["a", "b", "[c,d]"]``: commas inside brackets or quotes belong to one value."""
    values, depth, quote, current = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            values.append(current.strip())
            current = ""
            continue
        current += ch
    values.append(current.strip())
    return [v for v in values if v]


def expand_sets(sets: list[str]) -> list[list[str]]:
    """``["lr=1e-3,1e-4", "epochs=2"]`` → one list of ``key=value`` per grid point (the cartesian product)."""
    axes = []
    for item in sets:
        key, sep, values = item.partition("=")
        if not sep or not key.strip() or not split_values(values):
            raise ValueError(f"--set {item!r}: write key=value or key=v1,v2")
        axes.append([f"{key.strip()}={v}" for v in split_values(values)])
    return [list(combo) for combo in itertools.product(*axes)]


def build_grid(ws, experiments: list[str], *, protocols: list[str] | None, variants: list[str] | None, seeds: str | None,
               sets: list[str], profile: str, dataset: str, device: str, pretrained: str | None) -> list[Point]:
    """Every point of the sweep, in a stable order, each run id once. Raises ``planning.PlanError``."""
    from vaultlab.catalog import find_experiment
    from vaultlab.planning import PlanError, plan_runs

    try:
        combos = expand_sets(sets)
    except ValueError as exc:
        raise PlanError(str(exc)) from None
    store = RunStore(ws.root)
    points: dict[str, Point] = {}
    for query in experiments:
        try:
            exp = find_experiment(query, ws.experiments)
        except LookupError as exc:
            raise PlanError(str(exc).strip("'\"")) from None
        chosen = [v for v in variants or [] if v in exp.variants] or None
        if variants and exp.variants and not chosen:
            raise PlanError(f"{exp.id}: none of the variants {', '.join(variants)}; variants: {', '.join(exp.variants)}")
        for protocol, combo in itertools.product(protocols or [None], combos):
            plans = plan_runs(ws, exp.id, protocol=protocol, profile=profile, seeds=seeds, sets=combo, device=device,
                              variants=chosen, dataset=dataset, pretrained=pretrained)
            for plan in plans:
                for seed in plan.seeds:
                    run = store.get(plan.run_id(seed))
                    points.setdefault(run.run_id, Point(plan, seed, run, ws.root, " ".join(combo) if len(combos) > 1 else ""))
    return list(points.values())


def decide(point: Point, max_attempts: int) -> Decision:
    state = point.run.state()
    status = point.run.status()
    attempts = point.seen_attempts = int(status.get("attempts", 0))
    if state == "queued" and status.get("slurm_job") and slurm_job_gone(status["slurm_job"]):
        state = "stale"  # its job left the queue without ever starting (cancelled, or the submission was lost)
    if state == "done":
        trained_by = point.run.trained_by_other_code()
        return Decision("skip", f"done, trained by {trained_by}" if trained_by else "done")
    if state in ("running", "queued"):
        return Decision("busy", f"{state} {where(point.run.status())}".strip())
    if state in RETRYABLE and attempts >= max_attempts:
        return Decision("gave up", f"{state} after {attempts} attempt(s); raise --max-attempts to retry")
    return Decision("run", f"{state}, attempt {attempts + 1}" if state in RETRYABLE else "new")


def slurm_job_gone(job: str) -> bool:
    """Whether Slurm no longer knows ``job``; False where squeue cannot say (no Slurm on this machine)."""
    import shutil
    import subprocess

    if shutil.which("squeue") is None:
        return False
    out = subprocess.run(["squeue", "-h", "-r", "-o", "%i", "-j", job.split("_")[0]], capture_output=True, text=True)
    if out.returncode != 0 and "Invalid job id" not in out.stderr:
        return False
    return job not in out.stdout.split()


def where(status: dict) -> str:
    """Where a run runs, short: 'node12 pid 4242', 'job 123_4 on node12'."""
    host = status.get("host", "")
    if status.get("slurm_job"):
        return f"job {status['slurm_job']}" + (f" on {host}" if host else "")
    return f"{host} pid {status['pid']}" if status.get("pid") else host


def print_grid(points: list[Point], decisions: dict[str, Decision], console: Console) -> None:
    table = Table(title=f"sweep: {len(points)} point(s)", title_justify="left")
    table.add_column("run", overflow="fold", ratio=3)
    table.add_column("seed", justify="right")
    table.add_column("state", no_wrap=True)
    table.add_column("action", overflow="fold", ratio=2)
    for p in points:
        d = decisions[p.run_id]
        colour = {"run": "cyan", "skip": "green", "busy": "yellow", "gave up": "red"}[d.action]
        table.add_row(escape(p.run_id + (f" [{p.setting}]" if p.setting else "")), str(p.seed), p.run.state(),
                      f"[{colour}]{d.action}[/{colour}] " + escape(d.why))
    console.print(table)
    counts = {a: sum(d.action == a for d in decisions.values()) for a in ("run", "skip", "busy", "gave up")}
    console.print(" · ".join(f"{n} {a}" for a, n in counts.items()))


# -- running ------------------------------------------------------------------------------------

def run_points(points: list[Point], executor, console: Console, *, quiet: bool = False, poll_s: float = 0.5) -> float:
    """Launch ``points`` on ``executor`` and wait for all of them, with a done/running/failed line and an ETA;
    returns the seconds it took. Ctrl-C stops the local workers (their runs end "interrupted") and re-raises."""
    t0 = time.perf_counter()
    executor.submit(points)
    columns = (TextColumn("[bold]sweep"), BarColumn(bar_width=16), MofNCompleteColumn(), TextColumn("{task.fields[counts]}"),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    try:
        with Progress(*columns, console=console, disable=quiet, transient=False) as progress:
            task = progress.add_task("sweep", total=len(points), counts="")
            while True:
                executor.poll()
                active = [p for p in points if executor.active(p)]
                states = [p.run.state() for p in points]
                counts = {s: states.count(s) for s in ("done", "running", "queued", "failed", "interrupted", "stale") if s in states}
                progress.update(task, completed=len(points) - len(active), counts=" · ".join(f"{n} {s}" for s, n in counts.items()))
                if not active:
                    break
                time.sleep(poll_s)
    except KeyboardInterrupt:
        executor.stop()
        raise
    return time.perf_counter() - t0


def local_executor(jobs: int | None, nproc: int, device: str, gpus: str | None):
    """Workers within the machine's budget: one per GPU group on CUDA, else the CPU cores split evenly."""
    import os

    from vaultlab.executors.local import LocalExecutor

    ids = [g for g in (gpus or os.environ.get("CUDA_VISIBLE_DEVICES", "")).split(",") if g.strip()]
    if not ids and device != "cpu" and gpus is None:
        ids = [str(i) for i in range(_cuda_count())]
    if device == "cpu":
        ids = []
    if ids and nproc > len(ids):
        raise ValueError(f"--nproc {nproc} needs {nproc} GPUs (one per process); this machine shows {len(ids)}")
    default = max(1, len(ids) // nproc) if ids else 1
    return LocalExecutor(jobs=jobs or default, nproc=nproc, gpus=ids)


def _cuda_count() -> int:
    import shutil
    import subprocess

    if shutil.which("nvidia-smi") is None:  # no torch import in the sweep process just to count GPUs
        return 0
    out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
    return out.stdout.count("GPU ") if out.returncode == 0 else 0


# -- results ------------------------------------------------------------------------------------

def write_results(ws, points: list[Point], console: Console, *, write: bool = True) -> int:
    """The one place a sweep writes the vault: the collector (``vaultlab collect``), from this process
    only and under the vault lock, renders every finished run into the notes. Its exit code."""
    if not write or not any(p.run.state() == "done" for p in points):
        return 0
    from vaultlab.collect import collect

    return collect(ws.root, console=console)


def summary_table(points: list[Point]) -> Table:
    """Mean ± std of the method's test HTER and AUC (dev-EER threshold) per experiment, protocol and setting."""
    from vaultlab.metrics import aggregate_seeds

    groups: dict[tuple[str, str, str], list[dict]] = {}
    pending: dict[tuple[str, str, str], int] = {}
    for p in points:
        if p.run.state() == "done":
            groups.setdefault(p.group, []).append(p.run.read_json("metrics.json")["method"]["dev-eer"])
        else:
            pending[p.group] = pending.get(p.group, 0) + 1
    table = Table(title="test split, dev-EER threshold, % (mean ± std)", title_justify="left")
    table.add_column("experiment", no_wrap=True)
    table.add_column("protocol", no_wrap=True)
    table.add_column("setting", overflow="fold")
    table.add_column("n", justify="right")
    table.add_column("HTER", no_wrap=True)
    table.add_column("AUC", no_wrap=True)
    for key in sorted(set(groups) | set(pending)):
        runs = groups.get(key, [])
        n = f"{len(runs)}" + (f"/{len(runs) + pending[key]}" if pending.get(key) else "")
        if runs:
            agg = aggregate_seeds(runs)
            cells = [_mean_std(*agg[m]) for m in ("hter", "auc")]
        else:
            cells = ["—", "—"]
        table.add_row(escape(key[0]), escape(key[1]), escape(key[2]) or "—", n, *cells)
    return table


def _mean_std(mean: float, std: float, n: int) -> str:
    return f"{mean:.1f}" if n == 1 else f"{mean:.1f} ± {std:.1f}"


def run_distributed(ws, plans, nproc: int, console: Console, *, quiet: bool = False, write: bool = True) -> int:
    """``vaultlab run … --nproc N``: each seed of ``plans`` as one torchrun job of N processes, in turn;
    then the notes, written from this process. Unfinished earlier attempts resume from their checkpoints."""
    store = RunStore(ws.root)
    points = [Point(plan, seed, store.get(plan.run_id(seed)), ws.root) for plan in plans for seed in plan.seeds]
    todo = [p for p in points if p.run.state() != "done"]
    if todo:
        try:
            executor = local_executor(1, nproc, plans[0].device, None)
        except ValueError as exc:  # more processes than GPUs: a usage error, said before anything starts
            console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
            return 2
        run_points(todo, executor, console, quiet=quiet)
    return finish(ws, points, todo, console, write=write)


def finish(ws, points: list[Point], launched: list[Point], console: Console, table_console: Console | None = None,
           *, write: bool = True) -> int:
    """After the workers: name what did not finish, write the notes, print the summary; the exit code."""
    for p in launched:
        if p.run.state() != "done":
            console.print(f"[red]{escape(p.run_id)}: {p.run.state()}[/red] {escape(str(p.run.status().get('error', '')))} "
                          f"(log: {escape(str(p.run.path / 'worker.log'))})", soft_wrap=True)
    (table_console or console).print(summary_table(points))
    code = write_results(ws, points, console, write=write)
    return code or (0 if all(p.run.state() == "done" for p in points) else 1)
