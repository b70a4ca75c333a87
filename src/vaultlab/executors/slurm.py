"""``--executor slurm``: one Slurm job array through submitit (``map_array``), one task per point.

Resources come from the vault config's ``slurm:`` section, overridden by the command line:

    slurm:
      partition: gpu
      gpus_per_node: 1
      cpus_per_task: 8
      mem_gb: 32
      timeout_min: 240
      array_parallelism: 16
      signal: USR2          # what the cluster sends before a time limit or a preemption
      setup: ["module load cuda"]

On that signal the training checkpoints at its current step, the job marks its run interrupted and
requeues itself (submitit's Checkpointable), and the requeued job resumes from that checkpoint. A point
is still active while its job is in ``squeue``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import submitit

from vaultlab.runs import RunDir

SETTINGS = {  # config key → (submitit parameter, type)
    "partition": ("slurm_partition", str),
    "gpus_per_node": ("gpus_per_node", int),
    "cpus_per_task": ("cpus_per_task", int),
    "mem_gb": ("mem_gb", float),
    "timeout_min": ("timeout_min", int),
    "array_parallelism": ("slurm_array_parallelism", int),
    "setup": ("slurm_setup", list),
    "account": ("slurm_account", str),
    "qos": ("slurm_qos", str),
    "constraint": ("slurm_constraint", str),
}
DEFAULTS = {"timeout_min": 60, "cpus_per_task": 1}


class SlurmConfigError(ValueError):
    pass


def slurm_parameters(config: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """submitit parameters from ``slurm:`` in .vaultlab/config.yaml, then the command line."""
    merged = {**DEFAULTS, **(config or {}), **{k: v for k, v in overrides.items() if v is not None}}
    merged.pop("signal", None)
    unknown = sorted(set(merged) - set(SETTINGS))
    if unknown:
        raise SlurmConfigError(f"slurm: unknown setting(s) {', '.join(unknown)} in .vaultlab/config.yaml; known: "
                               f"{', '.join(sorted([*SETTINGS, 'signal']))}")
    params = {}
    for key, value in merged.items():
        name, kind = SETTINGS[key]
        try:
            params[name] = kind(value) if kind is not list else [str(v) for v in value]
        except (TypeError, ValueError):
            raise SlurmConfigError(f"slurm: {key}: {value!r} is not a {kind.__name__}") from None
    return params


class PointJob(submitit.helpers.Checkpointable):
    """What each array task runs. On the preemption/time-limit signal the training finishes its current
    step and saves a mid-epoch checkpoint (``engine.core.stop_at_next_step``); then submitit's handler
    runs: ``checkpoint`` marks the run interrupted and the same job is requeued, and ``run_job`` resumes
    from that checkpoint. Outside training (data loading, scoring; or DDP) submitit's handler runs at
    once and the run resumes from its last per-epoch checkpoint."""

    def __init__(self, nproc: int = 1):
        self.nproc = nproc

    def __call__(self, job: str) -> str:
        from vaultlab.engine.core import Preempted, stop_at_next_step
        from vaultlab.executors.worker import run_job

        if self.nproc > 1:  # one task per process: export RANK/WORLD_SIZE/MASTER_ADDR for torch.distributed
            submitit.helpers.TorchDistributedEnvironment().export()
        sig = getattr(signal, "SIG" + submitit.JobEnvironment.USR_SIG)
        requeue = signal.getsignal(sig)  # submitit's: checkpoint(), scontrol requeue, exit

        def on_signal(signum, frame):
            if not stop_at_next_step():
                requeue(signum, frame)

        signal.signal(sig, on_signal)
        try:
            return run_job(Path(job))
        except Preempted:
            requeue(sig, None)
            raise

    def checkpoint(self, job: str) -> submitit.helpers.DelayedSubmission:
        RunDir(Path(job).parent).set_status("interrupted", requeued=True,
                                            progress="signalled by Slurm: requeued, resumes from its last checkpoint")
        return super().checkpoint(job)


@dataclass
class SlurmExecutor:
    folder: Path  # submitit's logs and pickles
    parameters: dict[str, Any] = field(default_factory=dict)
    nproc: int = 1
    jobs: dict[str, str] = field(default_factory=dict)  # run id → Slurm job id ("123_4")

    name = "slurm"

    def submit(self, points) -> None:
        from vaultlab.executors.worker import write_job

        if shutil.which("sbatch") is None:
            raise SlurmConfigError("--executor slurm: sbatch is not on PATH (run the sweep on a Slurm login node)")
        executor = submitit.AutoExecutor(folder=self.folder / "%j", cluster="slurm")
        params = dict(self.parameters)
        if self.nproc > 1:
            params.update(tasks_per_node=self.nproc, nodes=1)
        executor.update_parameters(name="vaultlab", **params)
        # queued before submitting (a job that starts at once must not be overwritten), unless another
        # sweep took the point since this one decided to run it
        points = [p for p in points if p.take(executor="slurm")]
        if not points:
            return
        jobs = [str(write_job(p.run, p.plan, p.seed, p.vault_root)) for p in points]
        submitted = executor.map_array(PointJob(self.nproc), jobs)
        for point, job in zip(points, submitted, strict=True):
            self.jobs[point.run_id] = job.job_id
            point.run.note_queued_job(job.job_id)

    def active(self, point) -> bool:
        if self.jobs.get(point.run_id) in self._queue():
            return True
        # A job the preemption signal requeued passes through states and moments in which squeue does not
        # list it; its run says so ("requeued"), so wait for it a while before calling it over.
        status = point.run.status()
        return bool(status.get("state") == "interrupted" and status.get("requeued")
                    and time.time() - _timestamp(status.get("updated")) < REQUEUE_GRACE_S)

    def poll(self) -> None:
        self._cache = None

    def stop(self) -> None:
        """Ctrl-C leaves the jobs in Slurm: they keep training; a later sweep or `vaultlab status` finds them."""

    _cache: set[str] | None = None
    _last: set[str] | None = None

    def _queue(self) -> set[str]:
        if self._cache is None:
            ids = sorted({j.split("_")[0] for j in self.jobs.values()})
            # every job Slurm still knows, in any state that is not over (requeues included)
            out = subprocess.run(["squeue", "-h", "-r", "-t", "all", "-o", "%i %T", "-j", ",".join(ids)], capture_output=True, text=True)
            if out.returncode == 0:
                rows = [line.split() for line in out.stdout.splitlines() if len(line.split()) == 2]
                self._cache = self._last = {job for job, state in rows if state not in FINISHED_STATES}
            else:  # a busy controller times out now and then: a failed query says nothing, so keep the last answer
                self._cache = self._last if self._last is not None else set(self.jobs.values())
        return self._cache


FINISHED_STATES = {"COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "BOOT_FAIL", "OUT_OF_MEMORY", "DEADLINE"}
REQUEUE_GRACE_S = 300.0


def _timestamp(text: Any) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(text)).timestamp()
    except ValueError:
        return 0.0


def preemption_signal(config: dict[str, Any]) -> None:
    """submitit reads the preemption signal from the environment (USR2 unless told): the sbatch header and
    the job's handler must agree, so set it before the first submission."""
    sig = str((config or {}).get("signal") or "").upper().removeprefix("SIG")
    if sig:
        os.environ["SUBMITIT_PREEMPT_SIGNAL"] = sig
        submitit.slurm.slurm.SlurmJobEnvironment.USR_SIG = sig
