"""Run status: where a run runs, its heartbeat, and when it reads stale; the sweep's grid and retry rule."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.cluster.sweep_fixtures import slurm  # noqa: F401 (a one-node cluster, started when down)
from vaultlab import runs
from vaultlab.cli import app
from vaultlab.runs import RunDir, RunStore, state_of
from vaultlab.sweep import Decision, Point, decide, expand_sets, split_values
from tests.conftest import copy_example_vault


def _status(**kw):
    return {"state": "running", "heartbeat": time.time(), "host": socket.gethostname(), **kw}


def test_a_dead_pid_on_this_host_reads_stale_at_once():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        alive = _status(pid=child.pid, pid_start=runs._pid_start(child.pid))
        assert state_of(alive) == "running"
        child.kill()
        child.wait()
        assert state_of(alive) == "stale"
    finally:
        child.kill()


def test_a_zombie_or_a_recycled_pid_is_not_alive():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    time.sleep(1.0)  # exited, not yet reaped: a zombie
    assert not runs.pid_alive(child.pid)
    child.wait()
    me = runs._pid_start(runs.os.getpid())
    assert runs.pid_alive(runs.os.getpid(), me)
    assert not runs.pid_alive(runs.os.getpid(), str(int(me) + 1))  # same pid, another process


def test_elsewhere_only_the_heartbeat_tells():
    remote = _status(host="node-elsewhere", pid=1)
    assert state_of(remote) == "running"
    assert state_of(remote, now=time.time() + runs.STALE_AFTER_S + 1) == "stale"
    assert state_of({**remote, "state": "done"}, now=time.time() + 10_000) == "done"
    assert state_of({}) == "new"
    assert state_of({"state": "queued", "slurm_job": "7_1"}) == "queued"  # pending jobs may wait for hours


def test_running_records_where_and_a_heartbeat_thread_keeps_it_fresh(tmp_path, monkeypatch):
    monkeypatch.setattr(runs, "HEARTBEAT_EVERY_S", 0.05)
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "41")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    run = RunDir(tmp_path / "r")
    run.set_status("running")
    first = run.status()
    assert (first["host"], first["pid"], first["slurm_job"]) == (socket.gethostname(), runs.os.getpid(), "41_3")
    time.sleep(0.3)
    assert run.status()["heartbeat"] > first["heartbeat"]
    run.set_status("done", seconds=1.0)
    ended = run.status()["heartbeat"]
    time.sleep(0.2)
    assert run.status()["heartbeat"] == ended and run.state() == "done"  # the thread stopped with the run


def test_only_rank_zero_writes(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    run = RunDir(tmp_path / "r")
    run.set_status("running")
    run.write_json("spec.json", {})
    assert not (tmp_path / "r").exists()


def test_set_grids_and_values_with_commas():
    assert split_values("1e-3,1e-4") == ["1e-3", "1e-4"]
    assert split_values("[D0,D1],[D2]") == ["[D0,D1]", "[D2]"]
    assert expand_sets(["lr=1,2", "epochs=3"]) == [["lr=1", "epochs=3"], ["lr=2", "epochs=3"]]
    with pytest.raises(ValueError):
        expand_sets(["lr"])


def test_retry_cap_and_busy_points(tmp_path):
    run = RunDir(tmp_path / "r")
    point = Point(plan=None, seed=0, run=run, vault_root=tmp_path)
    assert decide(point, 2).action == "run"
    run.count_attempt(executor="local")
    run.set_status("failed", error="boom")
    assert decide(point, 2).action == "run"
    run.count_attempt(executor="local")
    assert decide(point, 2).action == "busy"  # queued by a live process (this one)
    run.set_status("failed", error="boom")
    assert decide(point, 2).action == "gave up"
    run.set_status("done")
    assert decide(point, 2) == Decision("skip", "done")
    run.write_json("environment.json", {"vaultlab": "0.0.9", "vaultlab_commit": None})  # trained by other code: said
    assert decide(point, 2) == Decision("skip", "done, trained by vaultlab 0.0.9")


def test_status_lists_state_heartbeat_age_and_where_at_80_columns(tmp_path, monkeypatch):
    store = RunStore(tmp_path)
    for name, status in (("003_distillation-adapt-d0-d1-s0-870e62796e", _status(host="gpu-node-17", pid=4242, slurm_job="88_0")),
                         ("003_distillation-adapt-d0-d1-s1-a175d17668", _status(pid=2**22 + 7))):
        run = store.get(name)
        run.path.mkdir(parents=True)
        if "-s0-" in name:  # the other one has only its status, as a point whose worker has not started yet
            run.write_json("spec.json", {})
        run.write_json("status.json", status)
    monkeypatch.setenv("COLUMNS", "80")
    result = CliRunner().invoke(app, ["status", "--vault", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "job 88_0 on" in result.output and "running" in result.output and "stale" in result.output
    rows = json.loads(CliRunner().invoke(app, ["status", "--vault", str(tmp_path), "--json"]).stdout)
    assert {r["state"] for r in rows} == {"running", "stale"}


def test_a_queued_point_whose_slurm_job_left_the_queue_runs_again(slurm, tmp_path):
    run = RunDir(tmp_path / "r")
    run.count_attempt(executor="slurm", slurm_job="999999_0")  # a job id Slurm never issued here
    assert decide(Point(plan=None, seed=0, run=run, vault_root=tmp_path), 3).action == "run"


def test_dry_run_prints_the_whole_grid_with_states_and_writes_nothing(tmp_path):
    from tests.cli.test_cli import digests

    vault = tmp_path / "vault"
    copy_example_vault(vault)
    before = digests(vault)
    result = CliRunner().invoke(app, ["sweep", "003_distillation", "004_depthseg", "--seeds", "0,1", "--set", "batch_size=16,32",
                                      "--vault", str(vault), "--dry-run"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    # 003: 2 batch sizes × 2 seeds; 004: 2 variants × 2 batch sizes × 2 seeds
    assert "sweep: 12 point(s)" in result.output and "12 run · 0 skip" in result.output
    assert result.output.count("batch_size=32") == 6 and max(map(len, result.output.splitlines())) <= 80
    assert digests(vault) == before and not (vault / ".vaultlab" / "runs").exists()
    bad = CliRunner().invoke(app, ["sweep", "003_distillation", "--set", "batch_size", "--vault", str(vault), "--dry-run"])
    assert bad.exit_code == 2 and "key=value" in bad.output


def test_two_threads_writing_one_status_file_never_leave_it_torn(tmp_path):
    """The heartbeat thread and the main thread both write status.json: each writer has its own temp
    file, so every read sees one writer's whole JSON, and no temp file is left behind."""
    import threading

    path = tmp_path / "status.json"
    stop = threading.Event()
    seen_bad: list[str] = []

    errors: list[BaseException] = []

    def writer(tag: str) -> None:
        try:
            for i in range(300):
                runs.write_json_atomic(path, {"by": tag, "i": i, "pad": tag * 2000})
        except BaseException as exc:  # a writer whose temp file another writer renamed away
            errors.append(exc)

    def reader() -> None:
        while not stop.is_set():
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                continue
            try:
                json.loads(text)
            except ValueError:
                seen_bad.append(text[:80])

    threads = [threading.Thread(target=writer, args=(t,)) for t in "ab"]
    watch = threading.Thread(target=reader)
    watch.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watch.join()
    assert not errors and not seen_bad
    assert json.loads(path.read_text(encoding="utf-8"))["i"] == 299
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


def test_a_failed_write_keeps_the_old_file_and_no_temp(tmp_path):
    path = tmp_path / "metrics.json"
    runs.write_json_atomic(path, {"ok": 1})
    with pytest.raises(TypeError):
        runs.write_json_atomic(path, {"bad": object.__new__(type("X", (), {"__str__": None}))})
    assert json.loads(path.read_text(encoding="utf-8")) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def _take_after(run_path: str, start: float, out) -> None:
    while time.time() < start:
        pass
    out.put(RunDir(Path(run_path)).count_attempt(expect=0, executor="local"))


def test_two_sweeps_that_decided_on_one_new_point_launch_it_once(tmp_path):
    """Two sweeps both saw the point new (0 attempts) and both try to take it at the same moment:
    exactly one gets attempt 1, the other is told another sweep took it."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start = time.time() + 2.0
    procs = [ctx.Process(target=_take_after, args=(str(tmp_path / "run"), start, out)) for _ in range(4)]
    for p in procs:
        p.start()
    got = sorted((out.get(timeout=60) for _ in procs), key=lambda x: (x is not None, x))
    for p in procs:
        p.join()
    assert got == [None, None, None, 1]
    assert RunDir(tmp_path / "run").status()["attempts"] == 1
