"""A local sweep: two points in two worker processes; one worker killed with kill -9 reads stale, and the
next sweep re-runs that point alone; the notes get mean ± std rows and nothing else changes."""

from __future__ import annotations

import json
import os
import re
import signal

from typer.testing import CliRunner

from tests.cli.test_cli import SEEDS, strip_owned
from tests.cluster.sweep_fixtures import Background, make_vault, statuses, wait_for, worker_env  # noqa: F401
from vaultlab.cli import app

BLANK_ROW = re.compile(r"^\|[ |]*\|\n", re.M)  # the template's empty Results row, which vaultlab may fill


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def user_text(text: str) -> str:
    return BLANK_ROW.sub("", strip_owned(text))


def test_kill_9_reads_stale_and_the_next_sweep_reruns_that_point_alone(tmp_path, worker_env):
    vault = make_vault(tmp_path)
    originals = {name: (vault / name).read_text(encoding="utf-8") for name in SEEDS}
    args = ("sweep", "003_distillation", "--seeds", "0,1", "--jobs", "2", "--vault", str(vault), "--quiet")
    sweep = Background(*args)

    def seed1_training():
        for run, st in statuses(vault).items():
            if "-s1-" in run.name and st.get("state") == "running" and (run / "checkpoints" / "teacher.pt").exists():
                return run, st
        return None

    victim, status = wait_for(seed1_training, sweep, "seed 1 reached its first checkpoint")
    assert status["host"] and status["pid"] != os.getpid()
    os.kill(status["pid"], signal.SIGKILL)
    result = sweep.finish()
    output = result.output
    assert result.exit_code == 1, output  # one point did not finish
    assert re.search(r"s1-\w+: stale", output), output

    listing = invoke("status", "--vault", str(vault)).output
    assert "stale" in listing and "done" in listing and max(map(len, listing.splitlines())) <= 80, listing
    dry = invoke(*args, "--dry-run").output
    assert "1 run · 1 skip" in dry, dry

    again = invoke(*args)
    output = again.output
    assert again.exit_code == 0, output
    final = statuses(vault)
    assert {st["state"] for st in final.values()} == {"done"}
    assert final[victim]["attempts"] == 2 and all(st["attempts"] == 1 for run, st in final.items() if run != victim)
    assert "resumed after epoch" in (victim / "worker.log").read_text()  # from the killed attempt's checkpoint
    assert "± " in output  # the summary: mean ± std over the two seeds

    note = (vault / "003_2b75969d89ee11c2.md").read_text(encoding="utf-8")
    rows = [line for line in note.splitlines() if "[[vaultlab/results/" in line]
    assert len(rows) == 4 and all("±" in row and "(n=2)" in row for row in rows), rows  # HTER, AUC × baseline, teacher
    for name, before in originals.items():  # nothing but vaultlab's keys and rows changed
        assert user_text((vault / name).read_text(encoding="utf-8")) == user_text(before), name
    assert json.loads((victim / "status.json").read_text())["state"] == "done"


def test_more_processes_than_gpus_is_a_one_line_usage_error(tmp_path, monkeypatch):
    """`run --nproc 2` where one GPU shows: NCCL needs a GPU per rank, so refuse before training (exit 2)."""
    from tests.cli.test_cli import invoke

    vault = make_vault(tmp_path)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    result = invoke("run", "003", "--vault", str(vault), "--nproc", "2", "--device", "cuda", "--seeds", "0", "-q")
    assert result.exit_code == 2
    assert "--nproc 2 needs 2 GPUs" in result.output and "Traceback" not in result.output
    assert not list((vault / ".vaultlab" / "runs").glob("*/scores.csv"))
