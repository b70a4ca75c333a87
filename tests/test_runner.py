"""runner.execute on a tiny SynthFAS: data generated once per run, identical numbers twice, threads recorded."""

from __future__ import annotations

import os

import pytest
import yaml
from rich.console import Console

from vaultlab import runner
from vaultlab.planning import plan_runs
from vaultlab.workspace import open_workspace

from tests.conftest import copy_example_vault

# A few seconds of CPU: 10 subjects at 32 px, two optimiser steps per stage.
TINY = {"synthfas": {"subjects": 10, "image_size": 32, "frames": 1, "bona_fide_videos": 2},
        "experiments": {"003_distillation": {"teacher_epochs": 1, "teacher_steps_per_epoch": 2, "student_epochs": 1,
                                             "student_steps_per_epoch": 2, "batch_size": 8, "k": 2, "input_size": 64}}}


@pytest.fixture
def plan(tmp_path):
    root = tmp_path / "vault"
    copy_example_vault(root)
    (root / ".vaultlab").mkdir(exist_ok=True)
    (root / ".vaultlab" / "config.yaml").write_text(yaml.safe_dump(TINY))
    [p] = plan_runs(open_workspace(root), "003", protocol=None, profile="quick", seeds="0,1", sets=[], device="cpu",
                    variants=None, dataset="synthfas", pretrained=None)
    return root, p


def test_data_is_generated_once_and_the_same_command_gives_identical_numbers(plan, monkeypatch):
    root, p = plan
    loads = []
    real = runner._load_dataset
    monkeypatch.setattr(runner, "_load_dataset", lambda *a: loads.append(1) or real(*a))
    runner._LOADED.clear()
    quiet = Console(quiet=True)
    first = runner.execute(p, root, console=quiet, quiet=True)
    assert len(first) == 2 and len(loads) == 1  # two seeds, one dataset
    scores = first[1].run.read_scores()
    p.seeds = [1]
    [second] = runner.execute(p, root, force=True, console=quiet, quiet=True)  # retrain seed 1 from scratch
    assert second.run.read_scores() == scores and second.metrics == first[1].metrics
    assert len(loads) == 1  # still the one dataset
    result = second.run.read_json("result.json")
    assert result["threads"] >= 1 and "labelled target (D1) videos per class from dev subjects" in result["threshold_data"]


def test_seeds_trained_in_worker_processes_give_the_numbers_of_seeds_trained_in_turn(plan, monkeypatch):
    root, p = plan
    quiet = Console(quiet=True)
    runner._LOADED.clear()
    monkeypatch.setattr(runner, "seed_workers", lambda plan, n: (1, 1))
    in_turn = [o.run.read_scores() for o in runner.execute(p, root, console=quiet, quiet=True)]
    monkeypatch.setattr(runner, "seed_workers", lambda plan, n: (2, 1))
    monkeypatch.setattr("vaultlab.runs.HEARTBEAT_EVERY_S", 0.005)  # heartbeats race with every status write, if two processes wrote
    order = root / "order.log"  # the parent imports what the workers need once, before it forks them
    imports, worker = runner.import_for_workers, runner._seed_worker

    def logged(what, fn):
        def call(*args, **kwargs):
            with order.open("a") as f:
                f.write(f"{what}\n")
            return fn(*args, **kwargs)
        return call

    monkeypatch.setattr(runner, "import_for_workers", logged("imports", imports))
    monkeypatch.setattr(runner, "_seed_worker", logged("worker", worker))
    at_once = runner.execute(p, root, force=True, console=quiet, quiet=True)
    assert order.read_text().split() == ["imports", "worker", "worker"]
    assert [o.seed for o in at_once] == [0, 1] and not any(o.reused for o in at_once)
    assert [o.run.read_scores() for o in at_once] == in_turn
    assert all(o.run.state() == "done" and o.metrics and o.history for o in at_once)
    assert {o.run.status()["pid"] for o in at_once}.isdisjoint({os.getpid()})  # the worker that trained it, not the parent


def test_a_failing_seed_in_a_worker_raises_its_own_error_and_marks_its_run(plan, monkeypatch):
    from vaultlab.recipes.base import RecipeError

    root, p = plan
    p.hp = {**p.hp, "student_init": "nonsense"}  # the recipe refuses it after training the teacher
    runner._LOADED.clear()
    monkeypatch.setattr(runner, "seed_workers", lambda plan, n: (2, 1))
    with pytest.raises(RecipeError, match="student_init"):
        runner.execute(p, root, console=Console(quiet=True), quiet=True)
    states = {runner.RunStore(root).get(p.run_id(s)).state() for s in p.seeds}
    assert "failed" in states and "running" not in states


def test_seed_workers_split_the_cpu_threads_and_stay_sequential_when_pinned(plan, monkeypatch):
    import torch

    _, p = plan
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert runner.seed_workers(p, 3) == (3, 1)
    assert runner.seed_workers(p, 2) == (2, 1)
    assert runner.seed_workers(p, 1) == (1, 2)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 16)  # a forked worker never gets > 1 thread (libgomp)
    assert runner.seed_workers(p, 3) == (1, 16)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    p.hp = {**p.hp, "threads": 2}
    assert runner.seed_workers(p, 3)[0] == 1
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    p.hp = {k: v for k, v in p.hp.items() if k != "threads"}
    assert runner.seed_workers(p, 3)[0] == 1


ORPHAN = """
import multiprocessing as mp, os, signal, sys, time
from vaultlab.runner import end_with_parent

def child(parent, out):
    signal.signal(signal.SIGTERM, lambda *_: (open(out, "w").write("ended"), os._exit(0)))
    end_with_parent(parent)
    time.sleep(60)

p = mp.get_context("fork").Process(target=child, args=(os.getpid(), sys.argv[1]))
p.start()
print(p.pid, flush=True)
time.sleep(0.5)
os.kill(os.getpid(), signal.SIGKILL)  # the parent dies without a word, as under kill -9
"""


def test_a_seed_worker_ends_when_its_parent_is_killed(tmp_path):
    import subprocess
    import sys
    import time

    from vaultlab.runs import pid_alive

    out = tmp_path / "ended"
    proc = subprocess.run([sys.executable, "-c", ORPHAN, str(out)], capture_output=True, text=True, timeout=60)
    child = int(proc.stdout.split()[0])
    deadline = time.time() + 10
    while time.time() < deadline and not out.exists():
        time.sleep(0.05)
    assert out.read_text() == "ended"  # it got SIGTERM (its run would read interrupted), not left training
    while time.time() < deadline and pid_alive(child):
        time.sleep(0.05)
    assert not pid_alive(child)


def test_a_reused_run_trained_by_other_code_is_named(plan):
    """Runs are reused by spec; when the code that trained one is not this code, the user is told which."""
    import io
    import json

    root, p = plan
    p.seeds = [0]
    runner._LOADED.clear()
    [first] = runner.execute(p, root, console=Console(quiet=True), quiet=True)

    def reuse() -> str:
        out = io.StringIO()
        [again] = runner.execute(p, root, console=Console(file=out, width=300), quiet=True)
        assert again.reused and again.run.read_scores() == first.run.read_scores()
        return out.getvalue()

    assert "already done — reusing its scores" in (same := reuse()) and "already done, by" not in same
    environment = first.run.path / "environment.json"
    environment.write_text(json.dumps(json.loads(environment.read_text()) | {"vaultlab": "0.0.9", "vaultlab_commit": "0123456789ab"}))
    other = reuse()
    assert f"already done, by vaultlab 0.0.9 (commit 0123456789ab); this is {runner.code_version()}" in other.replace("\n", " ")
