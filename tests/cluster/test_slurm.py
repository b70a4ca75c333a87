"""A two-point sweep through a real one-node Slurm (submitit job array): one job is signalled mid-run as
a preemption would, checkpoints at its current step, is requeued and resumes there; the sweep then
writes the notes.

Needs sbatch: `.ci/run` installs and starts a local cluster (scripts/slurm-local.sh); where Slurm is
installed but down, the fixture starts it (as root) and stops what it started."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path


from tests.cluster.sweep_fixtures import Background, make_vault, slurm, statuses, wait_for, worker_env  # noqa: F401

# the signal this cluster sends before a preemption or a time limit (submitit's default is USR2)
SLURM = "slurm:\n  partition: debug\n  cpus_per_task: 1\n  timeout_min: 60\n  signal: USR1\n"


def _squeue(job: str) -> str:
    return subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True, text=True).stdout.strip()


def test_signalled_job_is_requeued_resumes_and_the_sweep_collects(slurm, worker_env, tmp_path: Path):
    vault = make_vault(tmp_path, SLURM)
    sweep = Background("sweep", "003_distillation", "--seeds", "0,1", "--executor", "slurm", "--vault", str(vault), "--quiet")

    def a_job_past_its_first_checkpoint():
        for run, st in statuses(vault).items():
            if st.get("state") == "running" and st.get("slurm_job") and (run / "checkpoints" / "teacher.pt").exists():
                return run, st
        return None

    run, status = wait_for(a_job_past_its_first_checkpoint, sweep, "a Slurm job reached its first checkpoint", timeout=180)
    job = status["slurm_job"]
    subprocess.run(["scancel", "--signal=USR1", job], check=True)

    def requeued():
        st = statuses(vault).get(run, {})
        return st.get("state") == "interrupted" and st.get("requeued") and _squeue(job) == "PENDING"

    wait_for(requeued, sweep, f"job {job} marked interrupted and pending again")
    # Slurm holds a requeued job back for a while (its begin time); a test has no minutes to spare
    subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], check=True)

    result = sweep.finish()
    assert result.exit_code == 0, result.output
    final = statuses(vault)
    assert {st["state"] for st in final.values()} == {"done"}, final
    assert final[run]["slurm_restarts"] >= 1 and final[run]["attempts"] == 1  # a requeue is not a new attempt
    logs = "".join(p.read_text(errors="replace") for p in (vault / ".vaultlab" / "submitit").rglob("*_log.*"))
    # the signal reached the training loop: it saved a checkpoint at that step, and the requeued job resumed there
    assert "preempted — checkpoint saved at" in logs and re.search(r"resumed (at epoch \d+, step \d+|after epoch \d+)", logs), logs[-3000:]
    note = (vault / "003_2b75969d89ee11c2.md").read_text(encoding="utf-8")
    rows = [line for line in note.splitlines() if "[[vaultlab/results/" in line]
    assert len(rows) == 4 and all("(n=2)" in row for row in rows), rows  # HTER, AUC × baseline, teacher
    assert len(list((vault / "vaultlab" / "results").glob("*.md"))) == 2
