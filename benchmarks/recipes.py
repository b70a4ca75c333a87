"""Each seed note's default run, as a user gets it: every seed of the card, the method against every
other arm with paired 95 % intervals, and the time it takes (target ≤ 300 s per note on a 2-core CPU).

Notes: anomaly (000, 001), onesidetriplet (002), distillation (003: method vs baseline *and* vs the
unadapted teacher), depthseg (004, both variants). Each note is timed as a user types it —
``vaultlab run ID --force`` in a subprocess on a fresh copy of ``example_vault`` (data, every seed,
scoring, plots, write-back) — and its numbers are read back from the run directories through
``report.result_rows.summarise`` (the numbers and intervals the notes show). The first command also
generates SynthFAS (cached for the ones after it); its time is printed with it.

``--thread-check`` instead retrains seed 0 of each note (each variant) at 1 and at 2 threads and prints how far its
numbers move (the figure result notes quote as their thread sensitivity).

    python benchmarks/recipes.py [--notes 000 003] [--seeds 0,1,2] [--profile quick] [--threads N] [--thread-check] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_NOTES = ("000", "001", "002", "003", "004")
TARGET_S = 300


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", nargs="+", default=list(DEFAULT_NOTES))
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--seeds", default=None, help="comma-separated; default: the card's seeds")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch threads, as --set threads=N (default: torch's own choice)")
    parser.add_argument("--thread-check", action="store_true",
                        help="only retrain seed 0 of each note at 1 and at 2 threads and compare (skips the seed runs)")
    parser.add_argument("--vault", type=Path, default=REPO / "example_vault")
    parser.add_argument("--keep", type=Path, default=None,
                        help="work in this folder (a copy of the vault, made if missing) and keep it: its runs' scores.csv "
                             "hold the dev rows for diagnosis, and --thread-check reuses a seed-0 run it finds there at 1 or 2 threads")
    args = parser.parse_args()

    from vaultlab.planning import plan_runs
    from vaultlab.runs import RunStore
    from vaultlab.workspace import open_workspace

    console = Console(stderr=True)
    report: list[str] = []
    with tempfile.TemporaryDirectory(prefix="vaultlab-bench-") as tmp:
        root = args.keep.resolve() / "vault" if args.keep else Path(tmp) / "vault"
        if not root.exists():
            shutil.copytree(args.vault, root)
        ws = open_workspace(root)
        store = RunStore(root)
        threads_set = [f"threads={args.threads}"] if args.threads else []  # part of the run ids the runs are read back by
        for query in [] if args.thread_check else args.notes:
            command = [sys.executable, "-m", "vaultlab", "run", query, "--vault", str(root), "--quiet", "--force",
                       "--profile", args.profile, "--device", args.device]
            command += ["--seeds", args.seeds] if args.seeds else []
            command += [arg for value in threads_set for arg in ("--set", value)]
            t0, cpu0 = time.perf_counter(), children_cpu_seconds()
            done = subprocess.run(command, capture_output=True, text=True)
            seconds, cpu = time.perf_counter() - t0, children_cpu_seconds() - cpu0
            if done.returncode != 0:
                report.append(f"{query}: `vaultlab run` exited {done.returncode}: {done.stderr.strip().splitlines()[-1:]}")
                continue
            flag = "" if seconds <= TARGET_S else "  OVER"
            lines = [f"{query}: `vaultlab run {query}` took {seconds:.0f} s{flag} (CPU {cpu:.0f} s, user+sys of its process tree)"]
            plans = plan_runs(ws, query, protocol=None, profile=args.profile, seeds=args.seeds, sets=threads_set, device=args.device,
                              variants=None, dataset="synthfas", pretrained=None)
            for plan in plans:
                lines += plan_report(plan, store)
            report += lines
            console.print("\n".join(lines))
        for query in args.notes if args.thread_check else []:
            report += thread_check(ws, root, query, args, console)

    print(f"\nprofile {args.profile}, device {args.device}, threads {args.threads or 'default'}, load average "
          f"{os.getloadavg()[0]:.1f} (target ≤ {TARGET_S} s per note; test split, dev-EER threshold, %)")
    print("\n".join(report))


def plan_report(plan, store) -> list[str]:
    """The lines for one plan (a note's variant) read back from its seeds' run directories."""
    from vaultlab.report.result_rows import delta_text, mean_std_text, summarise
    from vaultlab.runner import outcome_from_run

    outcomes = [outcome_from_run(plan, seed, store.get(plan.run_id(seed))) for seed in plan.seeds]
    summary = summarise(outcomes)
    lines = [f"  {plan.recipe}{':' + plan.variant if plan.variant else ''} on {plan.protocol}, {len(outcomes)} seeds"]
    for arm in summary.arms:
        agg = summary.aggregate[arm]
        lines.append(f"  {arm:<9} HTER {mean_std_text(agg['hter']):<22} AUC {mean_std_text(agg['auc'])}")
    for arm, deltas in summary.comparisons.items():
        lines.append(f"  method vs {arm}: HTER {delta_text(deltas['hter'])}; AUC {delta_text(deltas['auc'])}")
    for arm in summary.arms:
        seeds = ", ".join(f"s{r['seed']} {r['hter']:.1f}/{r['auc']:.1f}" for r in summary.per_seed[arm])
        lines.append(f"  {arm:<9} per seed HTER/AUC: {seeds}; dev AUC {dev_auc_text(outcomes, arm)}")
    return lines


def children_cpu_seconds() -> float:
    """user + sys seconds of every finished child process (and the processes they waited for: forked seed workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def dev_auc_text(outcomes, arm: str) -> str:
    """The arm's video-level AUC on each seed's dev split (the data a choice may be made on), in %."""
    from sklearn.metrics import roc_auc_score

    from vaultlab.metrics import video_level
    from vaultlab.runner import score_table

    aucs = []
    for outcome in outcomes:
        dev = video_level(score_table(outcome.run.read_scores(), arm, "dev"))
        aucs.append(100 * roc_auc_score(dev.label, dev.score) if len(set(dev.label.tolist())) == 2 else float("nan"))
    return ", ".join(f"{a:.1f}" for a in aucs)


def thread_check(ws, root: Path, query: str, args, console: Console) -> list[str]:
    """Seed 0 of the note ``query`` (each of its variants) at 1 and at 2 threads: how far its numbers move."""
    import numpy as np

    from vaultlab.planning import plan_runs
    from vaultlab.runner import execute, outcome_from_run
    from vaultlab.runs import RunStore

    def plans(sets: list[str]):
        return plan_runs(ws, query, protocol=None, profile=args.profile, seeds="0", sets=sets, device=args.device,
                         variants=None, dataset="synthfas", pretrained=None)

    def seed_zero(default_plan, threads: int):
        """Seed 0 at ``threads``: a done run at this thread count is reused — one pinned by --set threads=N, or the
        default run's seed 0 when it recorded that count (a forked seed worker trains at one thread)."""
        run = RunStore(root).get(default_plan.run_id(0))
        if run.state() == "done" and run.read_json("result.json", {}).get("threads") == threads:
            return outcome_from_run(default_plan, 0, run)
        [plan] = [p for p in plans([f"threads={threads}"]) if p.variant == default_plan.variant]
        [outcome] = execute(plan, root, console=console, quiet=True)
        return outcome

    lines = []
    for default_plan in plans([]):
        two, one = seed_zero(default_plan, 2), seed_zero(default_plan, 1)
        variant = f" ({default_plan.variant})" if default_plan.variant else ""
        lines.append(f"thread check, {query}{variant} seed 0, 1 vs 2 threads (|difference|):")
        for arm in sorted(one.metrics):
            a, b = one.metrics[arm]["dev-eer"], two.metrics[arm]["dev-eer"]
            s1 = np.array([float(r["score"]) for r in one.run.read_scores() if r["arm"] == arm])
            s2 = np.array([float(r["score"]) for r in two.run.read_scores() if r["arm"] == arm])
            lines.append(f"  {arm:<9} HTER {abs(a['hter'] - b['hter']):.2f} points, AUC {abs(a['auc'] - b['auc']):.2f} points, "
                         f"max score {np.abs(s1 - s2).max():.2e}")
    return lines


if __name__ == "__main__":
    main()
