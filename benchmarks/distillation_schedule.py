"""Dev-only schedule check for the distillation card (note 003): never reads a test split.

For one seed, runs the recipe as ``vaultlab run`` would, with ``--set``-style overrides (e.g. a
teacher length), and after every epoch of every stage scores the current network on the protocol's
dev split — the k held-out labelled target videos per class that the run's threshold comes from — and
prints one JSON line: seed, stage, optimiser step, video-level dev AUC and EER (the teacher also on
the source domain's dev subjects). The recipe's final scoring of dev and test is skipped.

    python benchmarks/distillation_schedule.py --vault VAULT --seed 0 --set teacher_epochs=3 [--profile quick]

The quick profile's schedule was chosen with it (seeds 0–2; see the card's schedule assumption).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from rich.console import Console


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vault", type=Path, required=True, help="a synced copy of example_vault (its SynthFAS cache is used)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--set", dest="sets", action="append", default=[])
    args = parser.parse_args()

    import vaultlab.recipes.distillation as distillation
    from vaultlab.engine.core import Engine, EngineOptions
    from vaultlab.metrics import ScoreTable, eer_threshold
    from vaultlab.planning import plan_runs
    from vaultlab.recipes.base import RecipeContext, get_recipe, score_classifier
    from vaultlab.runner import load_dataset, make_splits
    from vaultlab.workspace import open_workspace

    ws = open_workspace(args.vault)
    [plan] = plan_runs(ws, "003", protocol=None, profile=args.profile, seeds=str(args.seed), sets=args.sets, device="cpu",
                       variants=None, dataset="synthfas", pretrained=None)
    data = load_dataset(plan, args.vault, Console(stderr=True))
    splits = make_splits(data, plan.protocol, {"k": plan.hp.get("k", 16), "seed": args.seed})
    source = splits.extra["source"]
    source_dev = data.select((data.domain == source.domain[0]) & (data.split == "dev"))
    training = {}

    def dev_metrics(model, rows) -> tuple[float, float]:
        from sklearn.metrics import roc_auc_score

        table = ScoreTable.from_samples(rows, score_classifier(ctx, model, rows)).video_level()
        return 100 * roc_auc_score(table.label, table.score), 100 * eer_threshold(table.score, table.label)[0]

    def after_epoch(message: str) -> None:  # the engine's heartbeat: "<stage> epoch <e>/<epochs>"
        stage, _, rest = message.partition(" epoch ")
        epoch = int(rest.split("/")[0])
        model = training["model"]
        auc, eer = dev_metrics(model, splits.dev)
        row = {"seed": args.seed, "stage": stage, "step": epoch * training["steps"], "dev_auc": round(auc, 2), "dev_eer": round(eer, 2)}
        if stage == "teacher":
            row["source_dev_auc"], row["source_dev_eer"] = (round(x, 2) for x in dev_metrics(model, source_dev))
        model.train()  # scoring left it in eval mode; the engine set train mode once, at the start of the stage
        print(json.dumps(row), flush=True)

    engine = Engine(EngineOptions(device="cpu"), checkpoint_dir=None, heartbeat=after_epoch, quiet=True)
    fit = engine.fit

    def tracked_fit(stage, modules, optimizer, batches, *rest, **kw):
        training["model"], training["steps"] = modules["model"], len(batches)
        return fit(stage, modules, optimizer, batches, *rest, **kw)

    engine.fit = tracked_fit
    distillation.dev_test_scores = lambda _ctx, _model: (None, None)  # no test scoring: the schedule is chosen on dev
    ctx = RecipeContext(splits=splits, engine=engine, hp=plan.hp, components=plan.components | {"variant": plan.variant},
                        seed=args.seed, profile=args.profile, pretrained=None)
    torch.manual_seed(args.seed)
    get_recipe(plan.recipe).run(ctx)


if __name__ == "__main__":
    main()
