"""Execute a resolved experiment: data → protocol → recipe → scores → metrics → run directory.

Nothing here writes into the user's notes; ``vaultlab.collect`` renders them from the run directories.
Metrics are always computed from the saved ``scores.csv``, so the numbers in the notes are exactly
what anyone can recompute from the run directory.
"""

from __future__ import annotations

import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from vaultlab.data.protocols import make_splits
from vaultlab.data.sampleset import SampleSet, Splits
from vaultlab.runs import RunDir, RunStore, environment_info, make_run_id


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
                "dataset": self.dataset, "data_options": self.data_options, "seed": seed, "pretrained": self.pretrained}

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


_LOADED: dict[tuple[str, str], SampleSet] = {}  # (vault, dataset digest) → the data of this process's last run


def load_dataset(plan: RunPlan, vault_root: Path, console: Console) -> SampleSet:
    """The run's data, generated (or read from the cache) once per process and shared by every seed,
    fold and variant of it: seeds differ in what they train, never in the data they see."""
    key = (str(Path(vault_root).resolve()), repr(synthfas_config(plan)) if plan.dataset == "synthfas" else plan.dataset)
    if key not in _LOADED:
        _LOADED.clear()  # hold one dataset in memory, not every one a long session has used
        _LOADED[key] = _load_dataset(plan, vault_root, console)
    return _LOADED[key]


def _load_dataset(plan: RunPlan, vault_root: Path, console: Console) -> SampleSet:
    if plan.dataset == "synthfas":
        from vaultlab.data.synthfas import load_or_generate

        config = synthfas_config(plan)
        console.print(f"SynthFAS: {config.subjects} subjects × {len(config.domains)} domains at {config.image_size} px (seed {config.seed}; cached after the first run)")
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(TextColumn("[bold]SynthFAS"), BarColumn(), MofNCompleteColumn(), TextColumn("images"),
                      TextColumn("{task.fields[rate]}"), TextColumn("ETA"), TimeRemainingColumn(), console=console,
                      transient=True) as bar:
            task = bar.add_task("synthfas", total=None, rate="")
            t0 = time.perf_counter()

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total, rate=f"{done / max(time.perf_counter() - t0, 1e-9):,.0f} img/s")

            return load_or_generate(config, vault_root / ".vaultlab" / "cache" / "synthfas", progress=advance)
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
    """Run every seed of ``plan``; seeds already done are reused unless ``force``."""
    import torch

    from vaultlab.engine.core import Engine, EngineOptions
    from vaultlab.recipes.base import RecipeContext, get_recipe

    console = console or Console(stderr=True)
    recipe = get_recipe(plan.recipe)
    store = RunStore(vault_root)
    outcomes: list[RunOutcome] = []
    data: SampleSet | None = None
    for seed in plan.seeds:
        run = store.get(plan.run_id(seed))
        if not force and run.state() == "done":
            console.print(f"[dim]{run.run_id}: already done — reusing its scores (--force to retrain)[/dim]")
            outcomes.append(outcome_from_run(plan, seed, run))
            continue
        if run.state() in ("interrupted", "failed", "stale", "running") and not resume:
            console.print(f"[yellow]{run.run_id} was {run.state()}; starting it again (--resume continues from its last epoch)[/yellow]")
        if data is None:
            t0 = time.perf_counter()
            data = load_dataset(plan, vault_root, console)
            console.print(f"data: {data.meta.get('name', plan.dataset)} — {data.summary()} ({time.perf_counter() - t0:.1f} s)")
        splits = make_splits(data, plan.protocol, {"k": plan.hp.get("k", 16), "seed": seed})
        run.path.mkdir(parents=True, exist_ok=True)
        run.write_json("spec.json", plan.spec(seed) | {"run_id": run.run_id, "assumptions": plan.assumptions, "sources": plan.sources,
                                                       "note": plan.note_relpath, "paper_title": plan.paper_title,
                                                       "protocol_group": plan.protocol_group})
        engine = Engine(EngineOptions(device=plan.device, threads=plan.hp.get("threads")), checkpoint_dir=run.checkpoint_dir,
                        resume=resume, console=console, heartbeat=run.beat, quiet=quiet)
        run.write_json("environment.json", environment_info(str(engine.device), vault_root))
        run.set_status("running", device=str(engine.device), profile=plan.profile, splits=splits.describe())
        console.print(f"[bold]{run.run_id}[/bold] · {plan.recipe} · {splits.protocol} · profile {plan.profile} · seed {seed} · {engine.device}")
        console.print(f"  {splits.describe()}")
        t0 = time.perf_counter()
        try:
            with sigterm_as_interrupt():
                torch.manual_seed(seed)
                ctx = RecipeContext(splits=splits, engine=engine, hp=plan.hp, components=plan.components | {"variant": plan.variant},
                                    seed=seed, profile=plan.profile, pretrained=plan.pretrained)
                result = recipe.run(ctx)
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
                                       "threads": torch.get_num_threads()})
        run.set_status("done", seconds=round(seconds, 1))
        outcomes.append(RunOutcome(plan, seed, run, metrics, history, {k: v.description for k, v in result.arms.items()}, notes, seconds))
    return outcomes


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
