"""A vault whose 003_distillation trains in a few seconds per point, and the sweep as a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.cli.test_cli import EXAMPLE, TINY

ROOT = Path(__file__).resolve().parents[2]
# three short teacher epochs: room to signal a job after its first checkpoint
SLOW_TEACHER = TINY.replace("    teacher_epochs: 1\n    teacher_steps_per_epoch: 4", "    teacher_epochs: 3\n    teacher_steps_per_epoch: 6")


def make_vault(tmp_path: Path, extra: str = "") -> Path:
    vault = tmp_path / "vault"
    shutil.copytree(EXAMPLE, vault)
    (vault / ".vaultlab").mkdir()
    (vault / ".vaultlab" / "config.yaml").write_text(SLOW_TEACHER + extra)
    return vault


def env() -> dict[str, str]:
    """Workers and Slurm jobs import this checkout's vaultlab, whatever their working directory."""
    path = os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")])
    return dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", COLUMNS="80")


def vaultlab(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "vaultlab", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env(), cwd=ROOT, **kw)


def statuses(vault: Path) -> dict[Path, dict]:
    out = {}
    for path in (vault / ".vaultlab" / "runs").glob("*/status.json"):
        try:
            out[path.parent] = json.loads(path.read_text())
        except (OSError, ValueError):  # mid-replace
            continue
    return out


def wait_for(predicate, proc: subprocess.Popen | None, what: str, timeout: float = 120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = predicate()
        if found:
            return found
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the sweep ended before {what}:\n{proc.stdout.read()}")
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
