"""Dev-only schedule check for any note: how each arm's dev numbers move with the length of training.
It never reads a test split.

For one seed (and each variant), runs the note's recipe as ``vaultlab run`` would (the card's profile,
``--set`` overrides), with the engine's per-epoch heartbeat hooked to keep every stage's weights after
each epoch. Then it replays the recipe once per (stage, epoch): that stage's ``fit`` restores its
weights after that epoch instead of training, every other stage its final weights, and the recipe's
own scoring runs as written (references, centres, face regions and all). An epoch's batches and
randomness depend only on (seed, epoch) and a stage's learning rate is constant unless a recipe passes
a scheduler, so a stage's weights after epoch e are those a run of e epochs ends with (with a
scheduler they are epoch e of the longer schedule). Caveat: a later stage that starts from an earlier
one (distillation's student from its teacher) keeps its final weights in the earlier stage's replays.

The recipe's test slot holds 16 dev rows instead of the test split (cheap, never reported), or, with
``--source-dev``, the source domain's dev subjects of an adapt protocol (reported as ``source_dev``).
A scoring pass that uses no weights of the replayed stage is taken from the full run, not recomputed.
An arm a recipe shares between variants (``RecipeContext.shared_arm``: depthseg's baseline) is trained
and replayed with the first variant only; the other variants read its final scores.

Prints one JSON line per (variant, stage, epoch): optimiser step, the epoch's training loss, and each
arm's video-level AUC and EER (%) on the dev split (the data a schedule may be chosen on):

    python benchmarks/dev_schedule.py --note 004 --vault VAULT [--variant pspnet] [--seed 0] [--set epochs=12]
        [--stages baseline] [--every 2] [--source-dev]

VAULT: a copy of example_vault (its SynthFAS cache is used and written). The quick schedules of the
distillation (003) and depthseg (004) cards were chosen with it; see their schedule assumptions.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch


def dev_curve(recipe: str, splits, hp: dict[str, Any], components: dict[str, Any], seed: int, *, profile: str = "quick",
              device: str = "cpu", stages: list[str] | None = None, every: int = 1, second_dev=None, shared: Path | None = None,
              emit: Callable[[dict[str, Any]], None] = print) -> list[dict[str, Any]]:
    """The rows described above for one recipe run; ``splits.test`` is never read (``second_dev``, when
    given, takes the test slot and is reported as ``source_dev``). ``shared``: a folder for the arms
    variants share (the same for every variant of one seed)."""
    from vaultlab.data.sampleset import Splits
    from vaultlab.engine.core import Engine, EngineOptions, StageRecord
    from vaultlab.recipes.base import RecipeContext, SharedArms, get_recipe

    test_slot = second_dev if second_dev is not None else splits.dev.select(np.arange(min(16, len(splits.dev))))
    engine = Engine(EngineOptions(device=device, threads=hp.get("threads")), checkpoint_dir=None, quiet=True)
    real_fit, real_predict = engine.fit, engine.predict
    order: list[str] = []  # stages in the order the recipe trains them
    owner: dict[int, str] = {}  # id(module) → its stage, in the current pass
    history: dict[str, list[dict]] = {}
    cache: list[tuple[frozenset, np.ndarray]] = []  # the full run's scoring passes, in call order
    replaying: dict[str, Any] = {"stage": None, "epoch": 0, "calls": 0}
    read_shared: list[str] = []  # the shared arms the full run read from another variant (its replays read them too)
    rows: list[dict[str, Any]] = []

    with tempfile.TemporaryDirectory(prefix="dev-schedule-") as tmp:
        def snapshot_path(stage: str, epoch: int) -> Path:
            return Path(tmp) / f"{order.index(stage)}-{epoch}.pt"

        def fit(stage, modules, optimizer, batches, step, epochs, **kw):
            owner.update({id(m): stage for m in modules.values()})
            if replaying["stage"] is None:  # the full run: train, keeping the weights after every epoch
                order.append(stage)
                engine.heartbeat = lambda _message: torch.save({k: m.state_dict() for k, m in modules.items()},
                                                               snapshot_path(stage, len(engine.stages[stage].history)))
                record = real_fit(stage, modules, optimizer, batches, step, epochs, **kw)
                history[stage] = list(record.history)
                return record
            epoch = replaying["epoch"] if stage == replaying["stage"] else len(history[stage])
            state = torch.load(snapshot_path(stage, epoch), map_location=engine.device, weights_only=True)
            for k, m in modules.items():
                m.load_state_dict(state[k])
            engine.stages[stage] = record = StageRecord(stage, history=history[stage][:epoch])
            return record

        def predict(modules, score, batches):
            modules = list(modules)
            if batches.data is splits.test:
                raise AssertionError("dev_schedule must never score the test split")
            uses = frozenset(owner.get(id(m)) for m in modules)
            call, replaying["calls"] = replaying["calls"], replaying["calls"] + 1
            if replaying["stage"] is None:
                cache.append((uses, out := real_predict(modules, score, batches)))
                return out
            if replaying["stage"] not in uses and call < len(cache) and cache[call][0] == uses:
                return cache[call][1].copy()
            return real_predict(modules, score, batches)

        engine.fit, engine.predict = fit, predict

        def run_pass(stage: str | None, epoch: int) -> None:
            replaying.update(stage=stage, epoch=epoch, calls=0)
            owner.clear()
            run_splits = Splits(splits.protocol, splits.train, splits.dev, test_slot, splits.description, dict(splits.extra),
                                splits.threshold_data)  # a recipe may narrow its dev split (anomaly's references leave it)
            arms = None if shared is None or (stage is not None and not read_shared) else SharedArms(shared, f"seed{seed}")
            ctx = RecipeContext(splits=run_splits, engine=engine, hp=dict(hp), components=dict(components), seed=seed, profile=profile,
                                shared=arms)
            torch.manual_seed(seed)
            result = get_recipe(recipe).run(ctx)
            if stage is None and arms is not None:
                read_shared.extend(arms.reused)
            done = [(s, len(history[s])) for s in order] if stage is None else [(stage, epoch)]
            for name, e in done:
                row = {"seed": seed, "stage": name, "epoch": e, **_epoch_numbers(history[name][e - 1]),
                       "dev": {arm: _auc_eer(run_splits.dev, a.dev) for arm, a in result.arms.items()}}
                if second_dev is not None:
                    row["source_dev"] = {arm: _auc_eer(second_dev, a.test) for arm, a in result.arms.items()}
                rows.append(row)
                emit(row)

        run_pass(None, 0)
        for stage in [s for s in order if stages is None or s in stages]:
            for epoch in range(1, len(history[stage])):
                if epoch % every == 0 or epoch == 1:
                    run_pass(stage, epoch)
    return rows


def _epoch_numbers(entry: dict[str, Any]) -> dict[str, Any]:
    """The optimiser step and the training losses the engine recorded for an epoch."""
    return {"step": entry["step"], **{f"train_{k}": round(v, 4) for k, v in entry.items() if k not in ("epoch", "step", "seconds", "img_per_s")}}


def _auc_eer(data, scores: np.ndarray) -> dict[str, float]:
    """Video-level AUC and EER (%) of one arm's scores on ``data``."""
    from sklearn.metrics import roc_auc_score

    from vaultlab.metrics import ScoreTable, eer_threshold

    table = ScoreTable.from_samples(data, scores).video_level()
    return {"auc": round(100 * roc_auc_score(table.label, table.score), 2), "eer": round(100 * eer_threshold(table.score, table.label)[0], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--note", required=True, help="the experiment: id, numeric prefix, file stem, alias or card id")
    parser.add_argument("--vault", type=Path, required=True, help="a copy of example_vault (its SynthFAS cache is used)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--protocol", default=None, help="default: the card's")
    parser.add_argument("--variant", action="append", default=None, help="default: every variant of the note")
    parser.add_argument("--set", dest="sets", action="append", default=[], help="key=value, as `vaultlab run --set`")
    parser.add_argument("--stages", default=None, help="comma-separated stages to replay per epoch (default: all)")
    parser.add_argument("--every", type=int, default=1, help="replay every N-th epoch (and the first)")
    parser.add_argument("--source-dev", action="store_true", help="adapt protocols: also score the source domain's dev subjects")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    from rich.console import Console

    from vaultlab.data.protocols import make_splits
    from vaultlab.planning import plan_runs
    from vaultlab.runner import load_dataset
    from vaultlab.workspace import open_workspace

    ws = open_workspace(args.vault)
    plans = plan_runs(ws, args.note, protocol=args.protocol, profile=args.profile, seeds=str(args.seed), sets=args.sets,
                      device=args.device, variants=args.variant, dataset="synthfas", pretrained=None)
    shared = tempfile.TemporaryDirectory(prefix="dev-schedule-shared-")
    for plan in plans:
        data = load_dataset(plan, args.vault, Console(stderr=True))
        splits = make_splits(data, plan.protocol, {"k": plan.hp.get("k", 16), "seed": args.seed})
        second = None
        if args.source_dev:
            source = splits.extra["source"]
            second = data.select((data.domain == source.domain[0]) & (data.split == "dev"))

        def emit(row: dict[str, Any], plan=plan) -> None:
            print(json.dumps({"note": plan.experiment_id, "variant": plan.variant, **row}), flush=True)

        dev_curve(plan.recipe, splits, plan.hp, plan.components | {"variant": plan.variant}, args.seed, profile=args.profile,
                  device=args.device, stages=args.stages.split(",") if args.stages else None, every=args.every, second_dev=second,
                  shared=Path(shared.name), emit=emit)
    shared.cleanup()


if __name__ == "__main__":
    main()
