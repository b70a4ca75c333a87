"""``--executor local``: N worker processes at a time on this machine, within a CPU/GPU budget.

Each point runs in its own process (``python -m vaultlab.executors.worker``, or ``torchrun`` when a
run spans several processes), so a crash or a ``kill -9`` takes one point down, and that point's
status says where it ran. CPU threads are split evenly between the concurrent workers; with GPUs,
each worker slot gets its own GPUs through ``CUDA_VISIBLE_DEVICES``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path


def worker_command(job: Path, nproc: int = 1) -> list[str]:
    if nproc > 1:
        return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
                "-m", "vaultlab.executors.worker", str(job)]
    return [sys.executable, "-m", "vaultlab.executors.worker", str(job)]


@dataclass
class LocalExecutor:
    jobs: int = 1  # concurrent workers
    nproc: int = 1  # processes per run (torchrun)
    cpus: int = field(default_factory=lambda: os.cpu_count() or 1)  # CPU threads shared by all workers
    gpus: list[str] = field(default_factory=list)  # GPU ids shared by all workers
    _waiting: list = field(default_factory=list)
    _running: dict = field(default_factory=dict)  # run id → (Popen, slot)

    name = "local"

    def __post_init__(self):
        if self.gpus and self.jobs * self.nproc > len(self.gpus):
            self.jobs = max(1, len(self.gpus) // self.nproc)

    def submit(self, points) -> None:
        from vaultlab.runs import where_am_i

        for point in points:  # queued by this process (stale if it dies), unless another sweep took it first
            if point.take(executor="local", **where_am_i()):
                self._waiting.append(point)
        self.poll()

    def poll(self) -> None:
        """Reap finished workers and start waiting points in the free slots."""
        for run_id, (proc, _slot) in list(self._running.items()):
            if proc.poll() is not None:
                del self._running[run_id]
        busy = {slot for _, slot in self._running.values()}
        free = [s for s in range(self.jobs) if s not in busy]
        while self._waiting and free:
            point, slot = self._waiting.pop(0), free.pop(0)
            self._running[point.run_id] = (self._start(point, slot), slot)

    def active(self, point) -> bool:
        self.poll()
        return point.run_id in self._running or any(p.run_id == point.run_id for p in self._waiting)

    def stop(self) -> None:
        """Ctrl-C: SIGTERM every worker (they mark their runs interrupted), then wait for them."""
        self._waiting.clear()
        for proc, _ in self._running.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, _ in self._running.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        self._running.clear()

    def _start(self, point, slot: int) -> subprocess.Popen:
        from vaultlab.executors.worker import write_job

        job = write_job(point.run, point.plan, point.seed, point.vault_root)
        threads = max(1, self.cpus // (self.jobs * self.nproc))
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONUNBUFFERED="1")
        if self.gpus:
            mine = self.gpus[slot * self.nproc:(slot + 1) * self.nproc]
            env["CUDA_VISIBLE_DEVICES"] = ",".join(mine)
        log = open(point.run.path / "worker.log", "ab")
        try:
            # its own session: a Ctrl-C in the terminal reaches the sweep, which stops workers in order
            return subprocess.Popen(worker_command(job, self.nproc), stdout=log, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)
        finally:
            log.close()
