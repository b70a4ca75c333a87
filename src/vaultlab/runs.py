"""Run directories under ``<vault>/.vaultlab/runs/<run-id>/`` — the machine-readable truth of a run.

A run id hashes the resolved spec and the seed, so repeating a sweep finds what is already done.
Files: ``spec.json`` (resolved experiment), ``status.json`` (state + heartbeat), ``history.json``
(per-epoch losses), ``scores.csv`` (split, arm, video, pai, label, score), ``metrics.json``,
``environment.json``, ``checkpoints/``. Anyone can recompute the metrics from ``scores.csv``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

STATES = ("running", "done", "failed", "interrupted")
STALE_AFTER_S = 120  # a "running" run whose heartbeat is older than this is reported as stale


def spec_hash(spec: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:10]


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "x"


def make_run_id(experiment_id: str, protocol: str, variant: str | None, seed: int, spec: dict[str, Any]) -> str:
    parts = [experiment_id, slug(protocol)] + ([slug(variant)] if variant else []) + [f"s{seed}", spec_hash(spec)]
    return "-".join(parts)


def now_iso() -> str:
    return datetime.now(timezone.utc).astimezone().replace(microsecond=0).isoformat()


def write_json_atomic(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=2, sort_keys=True, default=str)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


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

    def write_json(self, name: str, obj: Any) -> None:
        write_json_atomic(self.path / name, obj)

    # -- status -----------------------------------------------------------------------------
    def set_status(self, state: str, **extra: Any) -> None:
        assert state in STATES, state
        status = self.read_json("status.json", {}) or {}
        status.update(extra, state=state, heartbeat=time.time(), updated=now_iso())
        if state == "running":
            status.setdefault("started", now_iso())
        else:
            status["ended"] = now_iso()
        self.write_json("status.json", status)

    def beat(self, message: str = "") -> None:
        status = self.read_json("status.json", {}) or {}
        status.update(heartbeat=time.time(), progress=message)
        self.write_json("status.json", status)

    def state(self) -> str:
        """running/done/failed/interrupted, or "stale" for a running run whose heartbeat stopped."""
        status = self.read_json("status.json")
        if not status:
            return "new"
        if status.get("state") == "running" and time.time() - float(status.get("heartbeat", 0)) > STALE_AFTER_S:
            return "stale"
        return status["state"]

    # -- scores -----------------------------------------------------------------------------
    def write_scores(self, rows: list[dict[str, Any]]) -> None:
        path = self.path / "scores.csv"
        tmp = path.with_name(".scores.csv.tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=["split", "arm", "video", "pai", "label", "score"])
            writer.writeheader()
            for row in rows:
                writer.writerow({**row, "score": repr(float(row["score"]))})
        os.replace(tmp, path)

    def read_scores(self) -> list[dict[str, str]]:
        with open(self.path / "scores.csv", newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))


class RunStore:
    def __init__(self, vault_root: Path):
        from vaultlab.vault.config import runs_dir_of

        self.root = runs_dir_of(vault_root)  # `runs_dir:` in .vaultlab/config.yaml, else <vault>/.vaultlab/runs

    def get(self, run_id: str) -> RunDir:
        return RunDir(self.root / run_id)

    def all(self) -> list[RunDir]:
        if not self.root.is_dir():
            return []
        return [RunDir(p) for p in sorted(self.root.iterdir()) if (p / "spec.json").exists()]


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
    from vaultlab import __version__

    info["vaultlab"] = __version__
    info["vaultlab_commit"] = _git_commit(Path(__file__).resolve().parent)
    if vault_root is not None:
        info["vault_commit"] = _git_commit(vault_root)  # when the vault itself is a git repository
    return info


def _git_commit(folder: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(folder), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=5)
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
