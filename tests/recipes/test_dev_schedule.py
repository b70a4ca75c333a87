"""benchmarks/dev_schedule.py: per-epoch dev numbers of any recipe, never the test split."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from vaultlab.data.protocols import make_splits
from vaultlab.engine.core import Engine, EngineOptions
from vaultlab.recipes.base import RecipeContext, get_recipe

HP = {"input_size": 32, "batch_size": 8, "epochs": 3, "steps_per_epoch": 3, "lr": 5e-3, "hflip": True, "balanced": True,
      "encoder": "mobilenet_v2", "depth_levels": 4, "decoder_channels": 16, "depth_size": 8, "threads": 1}
COMPONENTS = {"backbone": "pspnet", "variant": "pspnet"}


@pytest.fixture(scope="module")
def dev_schedule():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "dev_schedule.py"
    spec = importlib.util.spec_from_file_location("dev_schedule", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_epoch_replays_the_recipe_as_a_shorter_run_would_end(tiny_data, dev_schedule, monkeypatch):
    splits = make_splits(tiny_data, "intra")
    scored: list[np.ndarray] = []
    real = dev_schedule._auc_eer
    monkeypatch.setattr(dev_schedule, "_auc_eer", lambda data, scores: (scored.append(scores), real(data, scores))[1])
    rows = dev_schedule.dev_curve("depthseg", splits, HP, COMPONENTS, seed=0, emit=lambda row: None)

    assert [(r["stage"], r["epoch"]) for r in rows] == [("depthseg-pspnet", 3), ("baseline", 3), ("depthseg-pspnet", 1),
                                                         ("depthseg-pspnet", 2), ("baseline", 1), ("baseline", 2)]
    assert [r["step"] for r in rows] == [9, 9, 3, 6, 3, 6]
    assert set(rows[0]["dev"]) == {"method", "baseline"} and "train_loss" in rows[0]
    # the replay of the method's epoch 2 scores dev exactly as a 2-epoch run does; its baseline is the full run's
    method_epoch2, baseline_full = scored[2 * 3], scored[2 * 3 + 1]
    torch.manual_seed(0)
    engine = Engine(EngineOptions(device="cpu", threads=1), quiet=True)
    short = get_recipe("depthseg").run(RecipeContext(splits=make_splits(tiny_data, "intra"), engine=engine, hp=HP | {"epochs": 2},
                                                     components=dict(COMPONENTS), seed=0, profile="test"))
    assert np.array_equal(method_epoch2, short.arms["method"].dev)
    assert np.array_equal(baseline_full, scored[1]) and not np.array_equal(baseline_full, short.arms["baseline"].dev)


def test_the_test_split_is_never_scored(tiny_data, dev_schedule, monkeypatch, tmp_path):
    splits = make_splits(tiny_data, "intra")
    seen = []
    real_predict = Engine.predict
    monkeypatch.setattr(Engine, "predict", lambda self, modules, score, batches: (seen.append(batches.data),
                                                                                  real_predict(self, modules, score, batches))[1])
    rows = {variant: dev_schedule.dev_curve("depthseg", splits, HP | {"epochs": 2}, {"backbone": variant, "variant": variant}, seed=0,
                                            shared=tmp_path, emit=lambda row: None)
            for variant in ("pspnet", "deeplabv3plus")}
    assert seen and all(data is not splits.test for data in seen)
    assert not any(set(data.subject.tolist()) & set(splits.test.subject.tolist()) for data in seen)
    # the baseline is trained and replayed with the first variant only; the second reads its final scores
    assert [(r["stage"], r["epoch"]) for r in rows["deeplabv3plus"]] == [("depthseg-deeplabv3plus", 2), ("depthseg-deeplabv3plus", 1)]
    final = [r for r in rows["pspnet"] if r["stage"] == "baseline" and r["epoch"] == 2][0]
    assert all(r["dev"]["baseline"] == final["dev"]["baseline"] for r in rows["deeplabv3plus"])
