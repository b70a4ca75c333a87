"""SIGTERM mid-run leaves status "interrupted"; --resume continues from the last checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from tests.cli.test_cli import tiny
from tests.conftest import copy_example_vault

SLOW_TEACHER = "\n".join(["    teacher_epochs: 3", "    teacher_steps_per_epoch: 6"])


def test_sigterm_marks_the_run_interrupted_and_resume_continues(tmp_path):
    vault = tmp_path / "vault"
    copy_example_vault(vault)
    tiny(vault)
    config = vault / ".vaultlab" / "config.yaml"
    config.write_text(config.read_text().replace("    teacher_epochs: 1\n    teacher_steps_per_epoch: 4", SLOW_TEACHER))
    command = [sys.executable, "-m", "vaultlab", "run", "003_distillation", "--vault", str(vault), "--quiet"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    runs = vault / ".vaultlab" / "runs"
    deadline = time.time() + 240
    status_file = None
    while time.time() < deadline:
        found = list(runs.glob("*/checkpoints/teacher.pt")) if runs.exists() else []
        if found:
            status_file = found[0].parents[1] / "status.json"
            break
        assert proc.poll() is None, proc.stdout.read()
        time.sleep(0.2)
    assert status_file is not None, "the run never reached its first checkpoint"
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output  # two teacher epochs and both students were still to come
    assert json.loads(status_file.read_text())["state"] == "interrupted"

    resumed = subprocess.run(command + ["--resume"], capture_output=True, text=True, env=env, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resumed after epoch" in resumed.stdout + resumed.stderr
    assert json.loads(status_file.read_text())["state"] == "done"
