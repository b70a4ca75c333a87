"""Execute a resolved experiment: data → protocol → recipe → scores → metrics → run directory.

Nothing here writes into the user's notes; ``vaultlab.collect`` renders them from the run directories.
Metrics are always computed from the saved ``scores.csv``, so the numbers in the notes are exactly
what anyone can recompute from the run directory.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from vaultlab.data.protocols import SPLITS_VERSION, domains_read, make_splits
from vaultlab.data.sampleset import SampleSet, Splits
from vaultlab.runs import RunDir, RunStore, code_version, environment_info, make_run_id, spec_hash

_STARTED = time.time()  # this command's start: with --force, only arms shared by runs since then are reused


@dataclass
class RunPlan:
    experiment_id: str
    note_relpath: str
    paper_title: str
    card_id: str
    recipe: str
    variant: str | None
    components: dict[str, Any]
    hp: dict[str, Any]
    protocol: str
    profile: str
    seeds: list[int]
    dataset: str = "synthfas"
    device: str = "auto"
    pretrained: str | None = None
    data_options: dict[str, Any] = field(default_factory=dict)  # e.g. SynthFAS size/counts from the vault config
    protocol_group: str = ""  # "oulu:P3" for its folds "oulu:P3-1"…: reported together as mean ± std
    assumptions: list[dict[str, Any]] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # value → where it came from (note/card/config/cli)

    def spec(self, seed: int) -> dict[str, Any]:
        """Everything that determines the numbers (not the device: CPU and GPU runs of one spec share an id)."""
        return {"experiment": self.experiment_id, "card": self.card_id, "recipe": self.recipe, "variant": self.variant,
                "components": self.components, "hp": self.hp, "protocol": self.protocol, "profile": self.profile,
                "dataset": self.dataset, "data_options": self.data_options, "seed": seed, "pretrained": self.pretrained,
                "splits_version": SPLITS_VERSION}

    def run_id(self, seed: int) -> str:
        return make_run_id(self.experiment_id, self.protocol, self.variant, seed, self.spec(seed))


@dataclass
class RunOutcome:
    plan: RunPlan
    seed: int
    run: RunDir
    metrics: dict[str, dict[str, dict[str, Any]]]  # arm → policy → Metrics.to_dict()
    history: dict[str, list[dict]]
    arms: dict[str, str]  # arm → description
    notes: list[str]
    seconds: float
    reused: bool = False


class RunInterrupted(KeyboardInterrupt):
    pass


@contextmanager
def sigterm_as_interrupt():
    """SIGTERM (Slurm, `kill`) takes the same path as Ctrl-C, so the run ends as "interrupted"."""
    def handler(signum, frame):
        raise RunInterrupted()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


_LOADED: dict[tuple[str, str, str], SampleSet] = {}  # (vault, dataset digest, domains read) → the data of this process's last run


def load_dataset(plan: RunPlan, vault_root: Path, console: Console) -> SampleSet:
    """The run's data, generated (or read from the cache) once per process and shared by every seed,
    fold and variant of it: seeds differ in what they train, never in the data they see."""
    key = (str(Path(vault_root).resolve()), repr(synthfas_config(plan)) if plan.dataset == "synthfas" else plan.dataset,
           repr(domains_read(plan.protocol)))
    if key not in _LOADED:
        _LOADED.clear()  # hold one dataset in memory, not every one a long session has used
        _LOADED[key] = _load_dataset(plan, vault_root, console)
    return _LOADED[key]


def _load_dataset(plan: RunPlan, vault_root: Path, console: Console) -> SampleSet:
    if plan.dataset == "synthfas":
        from vaultlab.data.synthfas import load_or_generate

        config = synthfas_config(plan)
        domains = domains_read(plan.protocol)  # only those the protocol reads: adapt:D0->D1 need not wait for D2 and D3
        console.print(f"SynthFAS: {config.subjects} subjects × domains {', '.join(domains or config.domains)} at {config.image_size} px "
                      f"(seed {config.seed}; cached after the first run)")
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(TextColumn("[bold]SynthFAS"), BarColumn(), MofNCompleteColumn(), TextColumn("images"),
                      TextColumn("{task.fields[rate]}"), TextColumn("ETA"), TimeRemainingColumn(), console=console,
                      transient=True) as bar:
            task = bar.add_task("synthfas", total=None, rate="")
            t0 = time.perf_counter()

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total, rate=f"{done / max(time.perf_counter() - t0, 1e-9):,.0f} img/s")

            return load_or_generate(config, vault_root / ".vaultlab" / "cache" / "synthfas", progress=advance, domains=domains)
    from vaultlab.data.real import load_prepared

    return load_prepared(plan.dataset, vault_root)


def synthfas_config(plan: RunPlan):
    """SynthFAS settings: the vault config's ``synthfas:`` section, else images at the profile's input size."""
    from dataclasses import fields

    from vaultlab.data.synthfas import SynthFASConfig

    known = {f.name for f in fields(SynthFASConfig)}
    options = {"image_size": int(plan.hp.get("input_size", 64)), **plan.data_options}
    if plan.hp.get("synthfas_subjects"):  # the smoke profile's small data set
        options["subjects"] = int(plan.hp["synthfas_subjects"])
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"synthfas: unknown setting(s) {', '.join(unknown)} in .vaultlab/config.yaml; known: {', '.join(sorted(known))}")
    if "domains" in options:
        options["domains"] = tuple(options["domains"])
    return SynthFASConfig(**options)


def execute(plan: RunPlan, vault_root: Path, *, resume: bool = False, force: bool = False, console: Console | None = None,
            quiet: bool = False) -> list[RunOutcome]:
    """Run every seed of ``plan``; seeds already done are reused unless ``force``.

    The data is loaded once and shared by every seed. On a CPU with several threads to spare, the
    seeds train at the same time, each in a forked process with its share of the threads
    (``seed_workers``): forked workers share the data without copying it, and a small network keeps
    one core busier than two. A seed's numbers do not depend on which process trains it: every stage
    seeds itself from the run's seed.
    """
    console = console or Console(stderr=True)
    store = RunStore(vault_root)
    outcomes: dict[int, RunOutcome] = {}
    todo: list[tuple[int, RunDir]] = []
    for seed in plan.seeds:
        run = store.get(plan.run_id(seed))
        if not force and run.state() == "done":
            if trained_by := run.trained_by_other_code():  # same spec, other code: its numbers are that code's
                console.print(f"[yellow]{run.run_id}: already done, by {trained_by}; this is {code_version()} — reusing "
                              "that code's scores (--force retrains it with this one)[/yellow]")
            else:
                console.print(f"[dim]{run.run_id}: already done — reusing its scores (--force to retrain)[/dim]")
            outcomes[seed] = outcome_from_run(plan, seed, run)
            continue
        if run.state() in ("interrupted", "failed", "stale", "running") and not resume:
            console.print(f"[yellow]{run.run_id} was {run.state()}; starting it again (--resume continues from its last epoch)[/yellow]")
        todo.append((seed, run))
    if todo:
        t0 = time.perf_counter()
        data = load_dataset(plan, vault_root, console)
        data_seconds = time.perf_counter() - t0
        console.print(f"data: {data.meta.get('name', plan.dataset)} — {data.summary()} ({data_seconds:.1f} s)")
        jobs = [SeedJob(plan, seed, run, data, vault_root, data_seconds, shared_since=_STARTED if force else 0.0) for seed, run in todo]
        workers, threads = seed_workers(plan, len(jobs))
        if workers > 1:
            import_for_workers()
            for job in jobs:
                job.prepare(console)
            console.print(f"training {len(jobs)} seeds at once: {workers} processes × {threads} thread{'s' * (threads > 1)}")
            outcomes.update(_train_concurrently(jobs, workers, threads, resume=resume, console=console, quiet=quiet))
        else:
            for job in jobs:
                job.prepare(console)
                outcomes[job.seed] = job.train(resume=resume, console=console, quiet=quiet)
    return [outcomes[seed] for seed in plan.seeds]


# What a seed worker would import on first use (backbones, segmentation networks, metric losses, ROC).
WORKER_IMPORTS = ("sklearn.metrics", "timm", "torchvision", "segmentation_models_pytorch", "pytorch_metric_learning")


def import_for_workers() -> None:
    """Import ``WORKER_IMPORTS`` here, once, before the seed workers fork: they inherit the modules.
    Each worker would otherwise import them itself, ≈ 4.5 CPU-s (timm 2.9 s and scikit-learn 1.6 s
    after torch, measured on this 2-core machine): 3 seeds on 2 cores pay ≈ 7 s of wall time for
    4.5 s here, and the write-back's ROC then finds scikit-learn imported. Note 004 (two variants,
    3 seeds, ``--set epochs=2``): 172 / 175 s without, 156 / 160 s with, same scores."""
    import importlib

    for name in WORKER_IMPORTS:
        importlib.import_module(name)


def seed_workers(plan: RunPlan, n_seeds: int) -> tuple[int, int]:
    """(processes, threads each) for training ``n_seeds`` seeds of ``plan``: one single-threaded
    process per seed when the run is on the CPU, has ≥ 2 threads but no more than the seeds can use
    one each, ≥ 2 seeds to train, and pins no thread count (``--set threads=N`` trains the seeds one
    after another). Up to two seeds share a thread: 3 seeds on 2 threads finish in 1.5 seed-times,
    not 2. A forked worker stays at one thread: GNU OpenMP (PyTorch's CPU thread pool) is not
    fork-safe, and a child that starts a parallel region after its parent ran one hangs (measured
    here: parent at 4 threads, forked child at 2 → hang; at 1 → fine). With threads to spare
    (16 cores, 3 seeds) the seeds train one after another with every thread instead."""
    import torch

    from vaultlab.engine import distributed
    from vaultlab.engine.core import resolve_device

    budget = torch.get_num_threads()  # OMP_NUM_THREADS, else what torch found
    if (n_seeds < 2 or budget < 2 or plan.hp.get("threads") or distributed.current_group().active
            or resolve_device(plan.device).type != "cpu"):
        return 1, budget
    if budget > n_seeds:
        return 1, budget
    return min(n_seeds, 2 * budget), 1


@dataclass
class SeedJob:
    """One seed of a plan: ``prepare`` (splits, spec, status) in the calling process, then ``train``
    (here, or in a forked worker)."""

    plan: RunPlan
    seed: int
    run: RunDir
    data: SampleSet
    vault_root: Path
    data_seconds: float = 0.0  # loading (or generating) the data, shared by every seed of the run
    splits: Splits | None = None
    shared_since: float = 0.0  # arms another variant's run saved before this time are trained again (SharedArms)

    def prepare(self, console: Console) -> None:
        """The seed's splits and spec; its status turns "running" in the process that trains it (``train``),
        whose pid and heartbeat thread then stand for it."""
        from vaultlab.engine.core import resolve_device

        plan, run = self.plan, self.run
        self.splits = splits = make_splits(self.data, plan.protocol, {"k": plan.hp.get("k", 16), "seed": self.seed})
        run.path.mkdir(parents=True, exist_ok=True)
        run.write_json("spec.json", plan.spec(self.seed) | {"run_id": run.run_id, "assumptions": plan.assumptions, "sources": plan.sources,
                                                            "note": plan.note_relpath, "paper_title": plan.paper_title,
                                                            "protocol_group": plan.protocol_group})
        device = resolve_device(plan.device)
        console.print(f"[bold]{run.run_id}[/bold] · {plan.recipe} · {splits.protocol} · profile {plan.profile} · seed {self.seed} · {device}")
        console.print(f"  {splits.describe()}")

    def train(self, *, resume: bool, console: Console, quiet: bool, on_beat: Callable[[str], None] | None = None) -> RunOutcome:
        import torch

        from vaultlab.engine.core import Engine, EngineOptions
        from vaultlab.recipes.base import RecipeContext, SharedArms, get_recipe

        plan, seed, run, splits, data = self.plan, self.seed, self.run, self.splits, self.data
        started, cpu0 = time.time(), time.process_time()

        def heartbeat(message: str) -> None:
            run.beat(message)
            if on_beat is not None:
                on_beat(message)

        engine = Engine(EngineOptions(device=plan.device, threads=plan.hp.get("threads")), checkpoint_dir=run.checkpoint_dir,
                        resume=resume, console=console, heartbeat=heartbeat, quiet=quiet)
        run.write_json("environment.json", environment_info(str(engine.device), self.vault_root))
        run.set_status("running", device=str(engine.device), profile=plan.profile, splits=splits.describe())
        t0 = time.perf_counter()
        try:
            with sigterm_as_interrupt():
                torch.manual_seed(seed)
                shared = None if engine.group.active else SharedArms(
                    run.path.parent / "_shared-arms", spec_hash({k: v for k, v in plan.spec(seed).items() if k not in ("variant", "components")}),
                    self.shared_since)
                ctx = RecipeContext(splits=splits, engine=engine, hp=plan.hp, components=plan.components | {"variant": plan.variant},
                                    seed=seed, profile=plan.profile, pretrained=plan.pretrained, shared=shared)
                result = get_recipe(plan.recipe).run(ctx)
        except KeyboardInterrupt:
            run.set_status("interrupted", seconds=round(time.perf_counter() - t0, 1))
            raise
        except Exception as exc:
            run.set_status("failed", error=f"{type(exc).__name__}: {exc}", seconds=round(time.perf_counter() - t0, 1))
            raise
        seconds = time.perf_counter() - t0
        notes = list(result.notes)
        if data.meta.get("depth_source"):
            notes.append(f"Depth / parsing targets of {data.meta.get('name', plan.dataset)}: {data.meta['depth_source']}.")
        notes += data.meta.get("data_notes", [])  # e.g. how many face crops of a real dataset are centre fallbacks
        if plan.pretrained:
            notes.append(f"Backbone initialised from local weights {plan.pretrained} (tensors matched by name and shape).")
        else:
            notes.append("All networks were trained from scratch (no pretrained weights were loaded).")
        run.write_scores(score_rows(splits, result.arms))
        metrics = metrics_from_rows(run.read_scores(), level=str(plan.hp.get("score_level", "video")))
        history = {name: rec.history for name, rec in engine.stages.items()}
        run.write_json("metrics.json", metrics)
        run.write_json("history.json", history)
        run.write_json("result.json", {"arms": {k: v.description for k, v in result.arms.items()}, "notes": notes,
                                       "extra": result.extra, "seconds": round(seconds, 1), "splits": splits.describe(),
                                       "splits_description": splits.description, "threshold_data": splits.threshold_text(),
                                       "threads": torch.get_num_threads(),
                                       "timing": {"data_s": round(self.data_seconds, 2), "started": round(started, 2),
                                                  "ended": round(time.time(), 2), "cpu_s": round(time.process_time() - cpu0, 2),
                                                  "stages_s": {k: round(r.seconds, 2) for k, r in engine.stages.items()}}})
        run.set_status("done", seconds=round(seconds, 1))
        return RunOutcome(plan, seed, run, metrics, history, {k: v.description for k, v in result.arms.items()}, notes, seconds)


def _train_concurrently(jobs: list[SeedJob], workers: int, threads: int, *, resume: bool, console: Console,
                        quiet: bool) -> dict[int, RunOutcome]:
    """Train ``jobs`` in forked processes, ``workers`` at a time, ``threads`` threads each.

    Each worker reports its heartbeats, then "done" or its exception, through a pipe; the parent
    shows one progress row per seed and reads each finished seed back from its run directory. A
    failing seed stops the others (they are marked interrupted) and its exception is raised here;
    Ctrl-C or SIGTERM stops every worker the same way.
    """
    import multiprocessing as mp
    from multiprocessing.connection import wait

    from rich.progress import Progress, TextColumn, TimeElapsedColumn

    ctx = mp.get_context("fork")  # the data is shared copy-on-write, not pickled
    waiting = list(jobs)
    running: dict[int, tuple[Any, Any, SeedJob]] = {}  # seed → (process, connection, job)
    outcomes: dict[int, RunOutcome] = {}
    failure: BaseException | None = None
    # No refresh thread: workers are forked while this display is live, and a fork must not copy a lock held by a thread.
    progress = Progress(TextColumn("[bold]{task.description}"), TextColumn("{task.fields[stage]}"), TimeElapsedColumn(),
                        console=console, disable=quiet, auto_refresh=False)
    rows = {job.seed: progress.add_task(f"seed {job.seed}", stage="waiting", start=False) for job in jobs}

    def start(job: SeedJob) -> None:
        receive, send = ctx.Pipe(duplex=False)
        process = ctx.Process(target=_seed_worker, args=(job, threads, resume, send, os.getpid()), name=f"vaultlab-seed-{job.seed}",
                              daemon=False)
        process.start()
        send.close()
        running[job.seed] = (process, receive, job)
        progress.start_task(rows[job.seed])
        progress.update(rows[job.seed], stage="starting")

    def stop_all() -> None:
        for process, _, _ in running.values():
            if process.is_alive():
                process.terminate()  # SIGTERM: the worker marks its run interrupted
        for seed, (process, receive, _) in list(running.items()):
            process.join(60)
            if process.is_alive():
                process.kill()
                process.join()
            receive.close()
            running.pop(seed)

    with progress, sigterm_as_interrupt():
        try:
            while waiting and len(running) < workers:
                start(waiting.pop(0))
            progress.refresh()
            while running:
                wait([c for _, c, _ in running.values()] + [p.sentinel for p, _, _ in running.values()], timeout=1.0)
                for seed, (process, receive, job) in list(running.items()):
                    if seed not in running:  # stopped (a seed before it failed)
                        continue
                    state = None
                    while True:
                        try:
                            if not receive.poll():
                                break
                            kind, payload = receive.recv()
                        except (EOFError, OSError):
                            break
                        if kind == "beat":
                            progress.update(rows[seed], stage=payload)
                        else:
                            state = (kind, payload)
                    if state is None and process.is_alive():
                        continue
                    process.join()
                    receive.close()
                    running.pop(seed)
                    kind, payload = state or ("error", RuntimeError(f"the worker training seed {seed} died (exit code {process.exitcode})"))
                    if kind == "done":
                        outcomes[seed] = replace(outcome_from_run(job.plan, seed, job.run), reused=False)
                        progress.update(rows[seed], stage=f"done in {outcomes[seed].seconds:.1f} s")
                        progress.stop_task(rows[seed])
                    elif failure is None:
                        failure = payload if kind == "error" else KeyboardInterrupt()
                        progress.update(rows[seed], stage="failed" if kind == "error" else "interrupted")
                        if job.run.state() == "running":  # it died before it could say so
                            job.run.set_status("failed", error=str(failure))
                        stop_all()
                if failure is None:
                    while waiting and len(running) < workers:
                        start(waiting.pop(0))
                progress.refresh()
        except BaseException:  # Ctrl-C / SIGTERM here: stop every worker, each marks its run interrupted
            stop_all()
            raise
    if failure is not None:
        raise failure
    return outcomes


def end_with_parent(parent: int) -> None:
    """Linux: have the kernel send this process SIGTERM when ``parent`` (the process that forked it)
    dies, however it dies (``kill -9`` included), so no seed trains on as an orphan; elsewhere nothing."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(1, int(signal.SIGTERM), 0, 0, 0) != 0:  # 1 = PR_SET_PDEATHSIG
            return
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _seed_worker(job: SeedJob, threads: int, resume: bool, send, parent: int) -> None:
    """A forked worker: train one seed with ``threads`` threads, report through ``send``."""
    import sys
    import threading

    import torch

    from vaultlab import runs

    torch.set_num_threads(threads)
    sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__  # not the parent's live display
    runs._STATUS_LOCK = threading.RLock()  # a parent thread may have held it at the fork; this process starts unlocked
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # outside training; sigterm_as_interrupt() covers training
    end_with_parent(parent)
    try:
        def beat(message: str) -> None:
            if os.getppid() != parent:  # the run process died while SIGTERM was ignored (outside training)
                raise KeyboardInterrupt
            send.send(("beat", message))

        job.train(resume=resume, console=Console(stderr=True), quiet=True, on_beat=beat)
        send.send(("done", None))
    except KeyboardInterrupt:
        send.send(("interrupted", None))
    except BaseException as exc:  # noqa: BLE001 - every failure goes to the parent, which raises it
        try:
            send.send(("error", exc))
        except Exception:  # an exception that does not pickle
            send.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        send.close()


def outcome_from_run(plan: RunPlan, seed: int, run: RunDir) -> RunOutcome:
    result = run.read_json("result.json", {})
    return RunOutcome(plan, seed, run, run.read_json("metrics.json"), run.read_json("history.json", {}),
                      result.get("arms", {}), result.get("notes", []), float(result.get("seconds", 0.0)), reused=True)


def score_rows(splits: Splits, arms: dict) -> list[dict[str, Any]]:
    rows = []
    for arm in arms.values():
        for split_name, data, scores in (("dev", splits.dev, arm.dev), ("test", splits.test, arm.test)):
            if len(scores) != len(data):
                raise RuntimeError(f"recipe arm {arm.name!r} returned {len(scores)} {split_name} scores for {len(data)} rows")
            for video, pai, label, score in zip(data.video.tolist(), data.pai.tolist(), data.label.tolist(), scores.tolist()):
                rows.append({"split": split_name, "arm": arm.name, "video": video, "pai": pai, "label": label, "score": score})
    return rows


def metrics_from_rows(rows: list[dict[str, str]], level: str = "video") -> dict[str, dict[str, dict[str, Any]]]:
    """Metrics for every arm and both threshold policies, from ``scores.csv`` rows alone."""
    from vaultlab.metrics import POLICIES, evaluate

    out: dict[str, dict[str, dict[str, Any]]] = {}
    for arm in sorted({r["arm"] for r in rows}):
        dev, test = score_table(rows, arm, "dev"), score_table(rows, arm, "test")
        out[arm] = {policy: evaluate(dev, test, policy=policy, level=level).to_dict(percent=True) for policy in POLICIES}
    return out


def score_table(rows: list[dict[str, str]], arm: str, split: str):
    """One arm's scores on one split, from ``scores.csv`` rows, as a ``metrics.ScoreTable``."""
    from vaultlab.metrics import ScoreTable

    sel = [r for r in rows if r["arm"] == arm and r["split"] == split]
    return ScoreTable(score=np.array([float(r["score"]) for r in sel]), label=np.array([int(r["label"]) for r in sel]),
                      pai=np.array([r["pai"] for r in sel]), video=np.array([r["video"] for r in sel]), name=split)
