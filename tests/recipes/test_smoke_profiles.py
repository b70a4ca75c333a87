"""Every method card's ``smoke`` profile runs end to end on the default SynthFAS and writes its rows.

Driven by the catalog, so a new card is covered without editing this file: a card that names methods
gets a note naming its first method; a card matched by no name (``composed``, the fallback) gets a note
of standard components. ``vaultlab run 003 --profile smoke`` once shipped broken (its ``k`` did not fit
the smoke data): the plan-level check catches that in a second, the end-to-end run catches the rest.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vaultlab.catalog import load_catalog
from vaultlab.cli import app

CARDS = sorted(load_catalog(None).cards.values(), key=lambda card: card.id)
COMPOSED_NOTE = "- **Backbone:** ResNet18\n- **Loss:** Binary CE loss\n"  # standard components, no method name


def _note(card) -> str:
    summary = f"**Method:** {card.match_methods[0]}\n" if card.match_methods else COMPOSED_NOTE
    return f"---\ntags: [paper]\n---\n# {card.title}\n\n## Quick Summary\n{summary}\n### Results\n"


@pytest.fixture(scope="module")
def card_vault(tmp_path_factory) -> Path:
    """One vault holding a note per card (they share its SynthFAS cache)."""
    root = tmp_path_factory.mktemp("cards")
    (root / ".obsidian").mkdir()
    for number, card in enumerate(CARDS):
        (root / f"{900 + number}_{card.id}.md").write_text(_note(card), encoding="utf-8")
    return root


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def _experiment(card_vault: Path, card) -> str:
    rows = {r["id"]: r for r in json.loads(invoke("list", "--vault", str(card_vault), "--json").stdout)}
    [exp] = [r for r in rows.values() if r["id"].startswith(f"{900 + CARDS.index(card)}_")]
    assert exp["card"] == card.id and exp["runnable"], exp
    return exp["id"]


@pytest.mark.parametrize("card", CARDS, ids=[card.id for card in CARDS])
def test_every_card_plans_its_smoke_profile(card_vault, card):
    """Fast: the plan (protocol, k against the data, --set keys) fits for every card, seed 0."""
    result = invoke("run", _experiment(card_vault, card), "--vault", str(card_vault), "--profile", "smoke", "--seeds", "0", "--dry-run")
    assert result.exit_code == 0, result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("card", CARDS, ids=[card.id for card in CARDS])
def test_every_card_runs_its_smoke_profile_and_writes_rows(card_vault, card):
    experiment = _experiment(card_vault, card)
    result = invoke("run", experiment, "--vault", str(card_vault), "--profile", "smoke", "--seeds", "0", "--device", "cpu")
    assert result.exit_code == 0, result.stderr
    runs = sorted((card_vault / ".vaultlab" / "runs").glob(f"{experiment}-*"))
    assert runs, "no run directory"
    for run in runs:  # one per variant
        assert json.loads((run / "status.json").read_text())["state"] == "done"
        scores = (run / "scores.csv").read_text().splitlines()
        assert len(scores) > 10, f"{run.name}: {len(scores)} score lines"
    note = next(card_vault.glob(f"{experiment.split('_')[0]}_*.md")).read_text(encoding="utf-8")
    assert f"vaultlab/results/{runs[0].name}" in note  # a Results row links the run


def test_an_impossible_k_is_a_plan_time_usage_error(card_vault):
    """k labelled target videos per class that the data does not hold: exit 2 before anything trains,
    naming the experiment, card, profile, key and where the value came from."""
    [card] = [c for c in CARDS if c.id == "distillation"]
    experiment = _experiment(card_vault, card)
    result = invoke("run", experiment, "--vault", str(card_vault), "--profile", "smoke", "--set", "k=1000", "--dry-run")
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    for part in (experiment, "card distillation", "profile 'smoke'", "k=1000 from the cli", "bona fide training videos", "--set k="):
        assert part in message, message
