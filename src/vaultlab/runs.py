"""Run directories under ``<vault>/.vaultlab/runs/<run-id>/`` — the machine-readable truth of a run.

A run id hashes the resolved spec and the seed, so repeating a sweep finds what is already done.
Files: ``spec.json`` (resolved experiment), ``status.json`` (state + heartbeat), ``history.json``
(per-epoch losses), ``scores.csv`` (split, arm, video, pai, label, score), ``metrics.json``,
``environment.json``, ``checkpoints/``. Anyone can recompute the metrics from ``scores.csv``.

Liveness: a running run's ``status.json`` names its host and pid (and Slurm job when there is one),
and a daemon thread refreshes its heartbeat every ``HEARTBEAT_EVERY_S``. A worker killed with
``kill -9`` therefore reads as *stale*: at once on its own host (its pid is gone), after
``STALE_AFTER_S`` without a heartbeat anywhere else. Only rank 0 of a torchrun group writes here.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

STATES = ("queued", "running", "done", "failed", "interrupted")
STALE_AFTER_S = 120  # a "running" run whose heartbeat is older than this is reported as stale
HEARTBEAT_EVERY_S = 10.0
_STATUS_LOCK = threading.RLock()  # the heartbeat thread and the run share status.json; RLock: signal handlers re-enter
_BEATING: dict[Path, threading.Event] = {}  # run dir → stop flag of its heartbeat thread


def spec_hash(spec: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:10]


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "x"


def make_run_id(experiment_id: str, protocol: str, variant: str | None, seed: int, spec: dict[str, Any]) -> str:
    parts = [experiment_id, slug(protocol)] + ([slug(variant)] if variant else []) + [f"s{seed}", spec_hash(spec)]
    return "-".join(parts)


def now_iso() -> str:
    return datetime.now(timezone.utc).astimezone().replace(microsecond=0).isoformat()


@contextlib.contextmanager
def _atomic_text(path: Path, newline: str | None = None):
    """Write ``path`` through a temp file of its own (unique per writer: the heartbeat thread and the
    main thread both write ``status.json``), fsync it and rename it over ``path``; on any error the
    temp file goes and ``path`` keeps its old bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with open(fd, "w", encoding="utf-8", newline=newline) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json_atomic(path: Path, obj: Any) -> None:
    with _atomic_text(path) as fh:
        json.dump(obj, fh, indent=2, sort_keys=True, default=str)
        fh.write("\n")


def shown_path(root: Path, path: Path) -> str:
    """``path`` as a note shows it: relative to the vault ``root`` when inside it, else absolute."""
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)


@dataclass
class RunDir:
    path: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / "checkpoints"

    def read_json(self, name: str, default: Any = None) -> Any:
        p = self.path / name
        return json.loads(p.read_text(encoding="utf-8")) if p.exists() else default

    def trained_by_other_code(self) -> str | None:
        """The code that trained this run ("vaultlab V (commit C)"), when it is not the running code:
        runs are reused by spec, so a reused run's numbers may come from older recipes. None when it is
        the same code or the run records none."""
        environment = self.read_json("environment.json") or {}
        if not environment.get("vaultlab"):
            return None
        trained_by = code_version(environment)
        return None if trained_by == code_version() else trained_by

    def write_json(self, name: str, obj: Any) -> None:
        if is_writer():
            write_json_atomic(self.path / name, obj)

    # -- status -----------------------------------------------------------------------------
    def set_status(self, state: str, **extra: Any) -> None:
        """Record ``state``; "running" also records where (host, pid, Slurm job) and starts the heartbeat
        thread, any other state stops it."""
        assert state in STATES, state
        if not is_writer():
            return
        with _STATUS_LOCK:
            status = self.read_json("status.json", {}) or {}
            status.update(extra, state=state, heartbeat=time.time(), updated=now_iso())
            if state == "running":
                status.update(where_am_i())
                status.setdefault("first_started", now_iso())
                status["started"] = now_iso()
                for key in ("ended", "error", "progress", "requeued"):
                    status.pop(key, None)
            elif state != "queued":
                status["ended"] = now_iso()
                if state == "done":
                    status.pop("progress", None)
            self.write_json("status.json", status)
        if state == "running":
            self._start_heartbeat()
        else:
            self._stop_heartbeat()

    def beat(self, message: str = "") -> None:
        """Refresh the heartbeat (and the progress text) of a running run; a no-op once it ended."""
        with _STATUS_LOCK:
            status = self.read_json("status.json", {}) or {}
            if status.get("state") != "running":
                return
            status["heartbeat"] = time.time()
            if message:
                status["progress"] = message
            self.write_json("status.json", status)

    def count_attempt(self, expect: int | None = None, **where: Any) -> int | None:
        """The submitter marks a point queued before launching it; returns the attempt number.

        ``expect``: the attempt count the submitter saw when it decided to run the point. Under a file
        lock (other sweeps, on this host or another, may decide on the same point) the point is taken
        only if its count is still that; else another submitter took it first, and this returns None."""
        self.path.mkdir(parents=True, exist_ok=True)
        with _STATUS_LOCK, open(self.path / ".claim.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            status = self.read_json("status.json", {}) or {}
            if expect is not None and int(status.get("attempts", 0)) != expect:
                return None
            attempts = int(status.get("attempts", 0)) + 1
            previous = self.state()
            for key in ("host", "pid", "pid_start", "slurm_job", "error", "progress"):
                status.pop(key, None)
            status.update(where, state="queued", attempts=attempts, previous=previous, queued=now_iso(), heartbeat=time.time())
            write_json_atomic(self.path / "status.json", status)
        return attempts

    def note_queued_job(self, job: str) -> None:
        """The scheduler's job id, for `vaultlab status` and for noticing a job that vanished while queued."""
        with _STATUS_LOCK:
            status = self.status()
            if status.get("state") == "queued" and "slurm_job" not in status:
                status["slurm_job"] = job
                write_json_atomic(self.path / "status.json", status)

    def status(self) -> dict[str, Any]:
        return self.read_json("status.json", {}) or {}

    def state(self) -> str:
        """new/queued/running/done/failed/interrupted, or "stale": a queued or running run whose process
        is gone from this host, or a running run whose heartbeat stopped."""
        return state_of(self.status())

    def _start_heartbeat(self) -> None:
        if self.path in _BEATING:
            return
        stop = threading.Event()
        _BEATING[self.path] = stop

        def loop() -> None:
            while not stop.wait(HEARTBEAT_EVERY_S):
                self.beat()

        threading.Thread(target=loop, name=f"heartbeat {self.run_id}", daemon=True).start()

    def _stop_heartbeat(self) -> None:
        stop = _BEATING.pop(self.path, None)
        if stop is not None:
            stop.set()

    # -- scores -----------------------------------------------------------------------------
    def write_scores(self, rows: list[dict[str, Any]]) -> None:
        if not is_writer():
            _barrier()  # rank 0 writes scores.csv; the others read it back after this barrier
            return
        with _atomic_text(self.path / "scores.csv", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=["split", "arm", "video", "pai", "label", "score"])
            writer.writeheader()
            for row in rows:
                writer.writerow({**row, "score": repr(float(row["score"]))})
        _barrier()

    def read_scores(self) -> list[dict[str, str]]:
        with open(self.path / "scores.csv", newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))


def state_of(status: dict[str, Any], now: float | None = None) -> str:
    if not status or "state" not in status:
        return "new"
    state = status["state"]
    if state not in ("queued", "running"):
        return state
    if status.get("host") == socket.gethostname() and status.get("pid") and not pid_alive(int(status["pid"]), status.get("pid_start")):
        return "stale"
    if state == "running" and (now or time.time()) - float(status.get("heartbeat", 0)) > STALE_AFTER_S:
        return "stale"
    return state


def where_am_i() -> dict[str, Any]:
    """Host, pid (with its start time, so a recycled pid is not mistaken for ours) and Slurm job."""
    where: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid(), "pid_start": _pid_start(os.getpid())}
    job = os.environ.get("SLURM_JOB_ID")
    if os.environ.get("SLURM_ARRAY_JOB_ID"):
        job = f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ.get('SLURM_ARRAY_TASK_ID', '')}"
    if job:
        where["slurm_job"] = job
        where["slurm_restarts"] = int(os.environ.get("SLURM_RESTART_COUNT", 0) or 0)
    if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:
        where["world_size"] = int(os.environ["WORLD_SIZE"])
    return where


def pid_alive(pid: int, start: Any = None) -> bool:
    """Whether ``pid`` is a live process on this host (a zombie is dead; so is a recycled pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return True  # no /proc (macOS): kill(0) is all we know
    if fields[0] == "Z":
        return False
    return start is None or str(start) == fields[19]


def _pid_start(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def is_writer() -> bool:
    """Only rank 0 of a torchrun / Slurm multi-task group writes the run directory."""
    return int(os.environ.get("RANK", "0") or 0) == 0


def _barrier() -> None:
    dist = sys.modules.get("torch.distributed")  # never import torch here: `sync` reads run dirs too
    if dist is not None and dist.is_available() and dist.is_initialized():
        dist.barrier()


class RunStore:
    def __init__(self, vault_root: Path):
        from vaultlab.vault.config import runs_dir_of

        self.root = runs_dir_of(vault_root)  # `runs_dir:` in .vaultlab/config.yaml, else <vault>/.vaultlab/runs

    def get(self, run_id: str) -> RunDir:
        return RunDir(self.root / run_id)

    def all(self) -> list[RunDir]:
        if not self.root.is_dir():
            return []
        # status.json alone: a point queued by a sweep whose worker has not started yet
        return [RunDir(p) for p in sorted(self.root.iterdir()) if (p / "spec.json").exists() or (p / "status.json").exists()]


def environment_info(device: str, vault_root: Path | None = None) -> dict[str, Any]:
    """Versions, device and git commits, for the run directory and the result note."""
    import numpy
    import torch

    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "device": device,
        "threads": torch.get_num_threads(),
        "argv": sys.argv,
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    info.update(_running_code())
    if vault_root is not None:
        info["vault_commit"] = _git_commit(vault_root)  # when the vault itself is a git repository
    return info


def code_version(environment: dict[str, Any] | None = None) -> str:
    """"vaultlab VERSION (commit C)" of a run's ``environment.json``, or of the running code when None."""
    environment = _running_code() if environment is None else environment
    commit = environment.get("vaultlab_commit")
    return f"vaultlab {environment.get('vaultlab', '?')}" + (f" (commit {commit})" if commit else "")


@lru_cache(maxsize=1)
def _running_code() -> dict[str, str | None]:
    """The running vaultlab's version and git commit, as ``environment.json`` records them."""
    from vaultlab import __version__

    return {"vaultlab": __version__, "vaultlab_commit": _git_commit(Path(__file__).resolve().parent)}


def _git_commit(folder: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(folder), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=5)
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
