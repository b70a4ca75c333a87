"""Composed notes on the command line: listed as runnable, planned with --without, refused with clear reasons."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from vaultlab.cli import app

NOTE = """---
tags: [paper, domain-generalization]
---
# A survey paper

## Quick Summary
- **Backbone:** ResNet18
- **Loss:** CE loss, Asymmetric triplet loss, rPPG loss
"""


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def _vault(tmp_path: Path) -> Path:
    (tmp_path / ".obsidian").mkdir()
    (tmp_path / "020_survey.md").write_text(NOTE, encoding="utf-8")
    (tmp_path / "021_vit.md").write_text(NOTE.replace("ResNet18", "ViT").replace("CE loss, Asymmetric triplet loss, rPPG loss", "Binary CE loss"),
                                         encoding="utf-8")
    return tmp_path


def test_list_says_which_term_blocks_and_what_runs(tmp_path):
    vault = _vault(tmp_path)
    rows = {r["id"]: r for r in json.loads(invoke("list", "--vault", str(vault), "--json").stdout)}
    assert rows["021_vit"]["runnable"] and rows["021_vit"]["card"] == "composed"
    assert not rows["020_survey"]["runnable"] and rows["020_survey"]["unmapped"] == ["rPPG loss"]


def test_run_without_an_unknown_term_plans_a_leave_one_domain_out_run(tmp_path):
    vault = _vault(tmp_path)
    refused = invoke("run", "020", "--vault", str(vault), "--dry-run")
    assert refused.exit_code == 2 and "rPPG loss" in refused.stderr and "--without" in refused.stderr
    planned = invoke("run", "020", "--vault", str(vault), "--dry-run", "--profile", "smoke", "--without", "rPPG loss")
    assert planned.exit_code == 0, planned.stderr
    assert "composed" in planned.stderr and "lodo:D3" in planned.stderr
    wrong = invoke("run", "020", "--vault", str(vault), "--dry-run", "--without", "Wasserstein loss")
    assert wrong.exit_code == 2 and "names no such term" in wrong.stderr


def test_a_set_key_the_recipe_does_not_read_is_a_usage_error(tmp_path):
    vault = _vault(tmp_path)
    result = invoke("run", "021", "--vault", str(vault), "--dry-run", "--set", "metric_dims=64")
    assert result.exit_code == 2 and "metric_dims" in result.stderr and "metric_dim" in result.stderr


def test_sync_and_list_decide_runnable_without_importing_torch(tmp_path):
    import subprocess
    import sys

    vault = _vault(tmp_path)
    code = ("import sys; from typer.testing import CliRunner; from vaultlab.cli import app; "
            f"r = CliRunner().invoke(app, ['sync', {str(vault)!r}]); assert r.exit_code == 0, r.output; "
            f"r = CliRunner().invoke(app, ['list', '--vault', {str(vault)!r}]); assert 'composed' in r.stdout, r.output; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    src = str(Path(__file__).resolve().parents[2] / "src")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": src, "COLUMNS": "200"})
    assert done.returncode == 0, done.stderr[-2000:]
