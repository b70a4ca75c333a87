"""runner.execute on a tiny SynthFAS: data generated once per run, identical numbers twice, threads recorded."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from vaultlab import runner
from vaultlab.planning import plan_runs
from vaultlab.workspace import open_workspace

EXAMPLE = Path(__file__).resolve().parents[1] / "example_vault"
# A few seconds of CPU: 10 subjects at 32 px, two optimiser steps per stage.
TINY = {"synthfas": {"subjects": 10, "image_size": 32, "frames": 1, "bona_fide_videos": 2},
        "experiments": {"003_distillation": {"teacher_epochs": 1, "teacher_steps_per_epoch": 2, "student_epochs": 1,
                                             "student_steps_per_epoch": 2, "batch_size": 8, "k": 2, "input_size": 64}}}


@pytest.fixture
def plan(tmp_path):
    root = tmp_path / "vault"
    shutil.copytree(EXAMPLE, root)
    (root / ".vaultlab").mkdir(exist_ok=True)
    (root / ".vaultlab" / "config.yaml").write_text(yaml.safe_dump(TINY))
    [p] = plan_runs(open_workspace(root), "003", protocol=None, profile="quick", seeds="0,1", sets=[], device="cpu",
                    variants=None, dataset="synthfas", pretrained=None)
    return root, p


def test_data_is_generated_once_and_the_same_command_gives_identical_numbers(plan, monkeypatch):
    root, p = plan
    loads = []
    real = runner._load_dataset
    monkeypatch.setattr(runner, "_load_dataset", lambda *a: loads.append(1) or real(*a))
    runner._LOADED.clear()
    quiet = Console(quiet=True)
    first = runner.execute(p, root, console=quiet, quiet=True)
    assert len(first) == 2 and len(loads) == 1  # two seeds, one dataset
    scores = first[1].run.read_scores()
    p.seeds = [1]
    [second] = runner.execute(p, root, force=True, console=quiet, quiet=True)  # retrain seed 1 from scratch
    assert second.run.read_scores() == scores and second.metrics == first[1].metrics
    assert len(loads) == 1  # still the one dataset
    result = second.run.read_json("result.json")
    assert result["threads"] >= 1 and "labelled target (D1) videos per class from dev subjects" in result["threshold_data"]
