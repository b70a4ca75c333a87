"""One sweep point in its own process: train it into its run directory, and nothing else.

``python -m vaultlab.executors.worker RUN_DIR/job.json`` (also under ``torchrun -m``, and called by the
Slurm job). The job file holds the resolved plan and the seed, so a worker needs no vault parsing, and
it never writes a note: the process that owns the vault renders finished runs later.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from vaultlab.runs import RunDir, write_json_atomic

JOB_FILE = "job.json"


def write_job(run: RunDir, plan, seed: int, vault_root: Path) -> Path:
    """The point's job file: the plan narrowed to one seed, and where the vault (data cache) lives."""
    path = run.path / JOB_FILE
    write_json_atomic(path, {"plan": dataclasses.asdict(dataclasses.replace(plan, seeds=[seed])), "seed": seed,
                             "vault": str(Path(vault_root).resolve())})
    return path


def read_job(path: Path) -> tuple[Any, int, Path]:
    from vaultlab.runner import RunPlan

    job = json.loads(Path(path).read_text(encoding="utf-8"))
    return RunPlan(**job["plan"]), int(job["seed"]), Path(job["vault"])


def run_job(path: Path) -> str:
    """Train one point (resuming from its checkpoints when an earlier attempt left some); returns its state."""
    from rich.console import Console

    from vaultlab.engine.distributed import init_from_env, leave_group
    from vaultlab.runner import execute

    run = RunDir(Path(path).parent)
    try:
        plan, seed, vault = read_job(path)
        init_from_env(plan.device)
        execute(plan, vault, resume=True, console=Console(stderr=True), quiet=True)
    except Exception as exc:
        if run.state() in ("queued", "running", "stale"):  # it failed before the runner could say so
            run.set_status("failed", error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        leave_group()
    return run.state()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m vaultlab.executors.worker RUN_DIR/job.json", file=sys.stderr)
        return 2
    try:
        run_job(Path(argv[0]))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the run directory records it as "failed" with the error
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
