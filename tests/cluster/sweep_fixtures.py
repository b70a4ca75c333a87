"""A vault whose 003_distillation trains in a few seconds per point, and a command running in the background."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.cli.test_cli import TINY
from tests.conftest import copy_example_vault

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "slurm-local.sh"
# three short teacher epochs: room to signal a job after its first checkpoint
SLOW_TEACHER = TINY.replace("    teacher_epochs: 1\n    teacher_steps_per_epoch: 4", "    teacher_epochs: 3\n    teacher_steps_per_epoch: 6")


def make_vault(tmp_path: Path, extra: str = "") -> Path:
    vault = tmp_path / "vault"
    copy_example_vault(vault)
    (vault / ".vaultlab").mkdir()
    (vault / ".vaultlab" / "config.yaml").write_text(SLOW_TEACHER + extra)
    return vault


@pytest.fixture
def worker_env(monkeypatch):
    """Workers and Slurm jobs (which inherit this environment) import this checkout's vaultlab."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


class Background:
    """``vaultlab ARGS`` in a thread of this process (no second interpreter to start); workers are real processes."""

    def __init__(self, *args: str):
        from typer.testing import CliRunner

        from vaultlab.cli import app

        self.result = None
        self.thread = threading.Thread(target=lambda: setattr(self, "result", CliRunner().invoke(app, list(args))), daemon=True)
        self.thread.start()

    def running(self) -> bool:
        return self.thread.is_alive()

    def finish(self, timeout: float = 240):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the command did not finish in time"
        return self.result


def statuses(vault: Path) -> dict[Path, dict]:
    out = {}
    for path in (vault / ".vaultlab" / "runs").glob("*/status.json"):
        try:
            out[path.parent] = json.loads(path.read_text())
        except (OSError, ValueError):  # mid-replace
            continue
    return out


def wait_for(predicate, command: Background, what: str, timeout: float = 120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = predicate()
        if found:
            return found
        if not command.running():
            raise AssertionError(f"the command ended before {what}:\n{command.result.output}")
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _cluster_up() -> bool:
    out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True)
    return out.returncode == 0 and any(s.startswith(("idle", "mix", "alloc")) for s in out.stdout.split())


@pytest.fixture(scope="module")
def slurm():
    if shutil.which("sbatch") is None:
        pytest.skip("sbatch is not on PATH: Slurm is not installed here (scripts/slurm-local.sh start installs a "
                    "one-node cluster; .ci/run does so before the tests)")
    started = False
    if not _cluster_up():
        if os.geteuid() != 0:
            pytest.fail("Slurm is installed but no node is up; start it with `sudo scripts/slurm-local.sh start`")
        subprocess.run([str(SCRIPT), "start"], check=True)
        started = True
    yield
    if started:
        subprocess.run([str(SCRIPT), "stop"], check=False)
