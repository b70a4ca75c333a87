"""End-to-end time of each seed note's default quick run: anomaly (000, 001), onesidetriplet (002),
depthseg (004, both variants). Target: ≤ 180 s each on a 2-core CPU.

Each run goes through the real path — a fresh copy of ``example_vault``, ``workspace.plan_runs``
(card + note + profile), ``runner.execute`` (SynthFAS, protocol, recipe, scores, metrics) — with
the SynthFAS cache generated once beforehand (its time is printed separately).

    python benchmarks/recipes.py [--notes 000 002 004] [--profile quick] [--device cpu] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from rich.console import Console

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_NOTES = ("000", "001", "002", "004")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", nargs="+", default=list(DEFAULT_NOTES))
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    parser.add_argument("--vault", type=Path, default=REPO / "example_vault")
    args = parser.parse_args()

    from vaultlab.runner import execute, load_dataset
    from vaultlab.workspace import open_workspace, plan_runs

    console = Console(stderr=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="vaultlab-bench-") as tmp:
        root = Path(tmp) / "vault"
        shutil.copytree(args.vault, root)
        ws = open_workspace(root)
        for query in args.notes:
            plans = plan_runs(ws, query, protocol=None, profile=args.profile, seeds="0", sets=[], device=args.device,
                              variants=None, dataset="synthfas", pretrained=None)
            for plan in plans:
                if args.threads:
                    plan.hp["threads"] = args.threads  # read by runner.execute's Engine
                t0 = time.perf_counter()
                load_dataset(plan, root, console)  # generate (or hit) the SynthFAS cache outside the timed run
                data_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                (outcome,) = execute(plan, root, force=True, console=console, quiet=True)
                seconds = time.perf_counter() - t0
                train_imgs = sum(e["img_per_s"] * e["seconds"] for h in outcome.history.values() for e in h)
                train_s = sum(e["seconds"] for h in outcome.history.values() for e in h)
                auc = {arm: m["dev-eer"]["auc"] for arm, m in outcome.metrics.items()}
                rows.append((f"{query} {plan.recipe}{':' + plan.variant if plan.variant else ''}", plan.protocol, seconds, data_s,
                             train_s, train_imgs / max(train_s, 1e-9), auc))
                console.print(f"{rows[-1][0]}: {seconds:.1f} s")

    print(f"\nprofile {args.profile}, device {args.device}, threads {args.threads or 'default'} (target ≤ 180 s per run)")
    print(f"{'run':<34} {'protocol':<22} {'total s':>8} {'train s':>8} {'train img/s':>12} {'data s':>7}  test AUC per arm")
    for name, protocol, seconds, data_s, train_s, ips, auc in rows:
        aucs = ", ".join(f"{arm} {value:.3f}" for arm, value in sorted(auc.items()) if value is not None)
        flag = "" if seconds <= 180 else "  OVER"
        print(f"{name:<34} {protocol:<22} {seconds:8.1f} {train_s:8.1f} {ips:12.0f} {data_s:7.1f}  {aucs}{flag}")


if __name__ == "__main__":
    main()
