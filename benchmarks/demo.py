"""`make demo`, timed by stage against its target (≤ 150 s on a 2-core CPU).

Runs what the Makefile's demo target runs — a fresh copy of ``example_vault``, ``vaultlab sync``,
``vaultlab run 003_distillation`` (the card's seeds, quick profile, SynthFAS generated from scratch)
— each command in its own process, in a temporary folder, and prints the wall time of each stage,
read back from the run directories (``result.json`` → ``timing``):

    copy + sync · start-up and plan · data (SynthFAS) · train + score (all seeds) · write-back · total

with the CPU seconds (user + sys of the process tree) and the load average before and after, since a
wall time measured on a shared machine says little by itself.

    python benchmarks/demo.py [--keep DIR] [--profile quick] [--set key=value ...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 150.0
NOTE = "003_distillation"


def cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def vaultlab(*args: str) -> tuple[float, float, float, float]:
    """Run ``vaultlab ARGS`` in its own process: (start, end) wall clock, wall seconds, CPU seconds."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""), HF_HUB_OFFLINE="1")
    cpu0, start = cpu_children(), time.time()
    done = subprocess.run([sys.executable, "-m", "vaultlab", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    end = time.time()
    if done.returncode != 0:
        sys.exit(f"vaultlab {' '.join(args)} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return start, end, end - start, cpu_children() - cpu0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build the demo vault here and keep it (default: a temporary folder)")
    parser.add_argument("--profile", default="quick", help="the demo's is quick; smoke checks this script in seconds")
    parser.add_argument("--set", dest="sets", action="append", default=[], help="passed on to `vaultlab run`")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="vaultlab-demo-")) if args.keep is None else args.keep
    vault = work / "demo-vault"
    load_before = os.getloadavg()
    try:
        t0 = time.time()
        shutil.rmtree(vault, ignore_errors=True)
        shutil.copytree(REPO / "example_vault", vault)
        _, _, sync_wall, sync_cpu = vaultlab("sync", str(vault))
        copy_sync = time.time() - t0
        run_args = ["run", NOTE, "--vault", str(vault), "--profile", args.profile] + [x for s in args.sets for x in ("--set", s)]
        start, end, run_wall, run_cpu = vaultlab(*run_args)
        timings = [json.loads((d / "result.json").read_text())["timing"] for d in sorted((vault / ".vaultlab" / "runs").iterdir())
                   if d.name.startswith(NOTE) and (d / "result.json").exists()]
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()
    if not timings:
        sys.exit("no finished run directories to read the stage times from")
    first, last = min(t["started"] for t in timings), max(t["ended"] for t in timings)
    data_s = timings[0]["data_s"]
    train_s = last - first
    startup_s = max(0.0, first - start - data_s)  # interpreter, imports, planning, splits (and data, subtracted)
    writeback_s = end - last
    total = copy_sync + run_wall

    print(f"make demo: {NOTE}, {len(timings)} seeds, {args.profile} profile, SynthFAS generated from scratch ({os.cpu_count()} CPUs)")
    print(f"  copy + sync         {copy_sync:6.1f} s   (sync CPU {sync_cpu:.1f} s)")
    print(f"  start-up and plan   {startup_s:6.1f} s")
    print(f"  data (SynthFAS)     {data_s:6.1f} s")
    print(f"  train + score       {train_s:6.1f} s   (all seeds)")
    for t in timings:
        stages = ", ".join(f"{k} {v:.1f}" for k, v in t["stages_s"].items())
        print(f"    one seed: {t['ended'] - t['started']:5.1f} s wall, {t['cpu_s']:5.1f} s CPU ({stages})")
    print(f"  write-back          {writeback_s:6.1f} s   (metrics, intervals, plots, notes)")
    verdict = "meets" if total <= TARGET_S else "MISSES"
    print(f"  total               {total:6.1f} s wall = {total / TARGET_S:.2f} × the {TARGET_S:.0f} s target ({verdict} it); "
          f"CPU user+sys {sync_cpu + run_cpu:.1f} s")
    print(f"  load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (a shared machine inflates wall times)")


if __name__ == "__main__":
    main()
