from pathlib import Path

import pytest
import yaml

from vaultlab.catalog import load_catalog, resolve_vault
from vaultlab.report.dashboard import region_markers, render_dashboard, render_dashboard_region, render_runs_base
from vaultlab.vault.model import Note, SummaryField, Task
from vaultlab.vault.note import read_note

EXAMPLE_VAULT = Path(__file__).resolve().parents[2] / "example_vault"


def _note(relpath, method, frontmatter=None, tasks=()):
    return Note(path=Path("/vault") / relpath, relpath=relpath, text="", digest="",
                frontmatter={"tags": ["paper"], **(frontmatter or {})}, frontmatter_lines={"paper_url": 3},
                title=Path(relpath).stem, summary=[SummaryField("Method", "method", method, 15)],
                progress_tasks=[Task(20 + i, mark, "step") for i, mark in enumerate(tasks)], is_paper=True)


@pytest.fixture(scope="module")
def vault():
    notes = [
        _note("papers/001_a.md", "Distillation", {"status": "ðŸ“š To Read", "paper_url": "https://x.org/p"}, tasks="x /"),
        _note("papers/000_b.md", "DepthSeg", {"paper_url": "https://x.org/p/", "status": "Reading | skimmed"}),
        _note("papers/002_c.md", "Quantum PAD", {"status": None}),
    ]
    return notes, resolve_vault(notes, load_catalog())


RESULTS = {"001_distillation": [
    {"hter": 20.0, "auc": 80.0, "protocol": "adapt:D0->D1", "seed": 0, "run_id": "r-new", "date": "2026-05-02T10:00:00"},
    {"hter": 30.0, "auc": 70.0, "protocol": "adapt:D0->D1", "seed": 1, "note": "vaultlab/results/r-old.md", "date": "2026-05-01T10:00:00"},
]}


def test_dashboard_is_deterministic_and_fenced(vault):
    notes, experiments = vault
    first = render_dashboard(experiments, notes, RESULTS)
    assert first == render_dashboard(list(reversed(experiments)), list(reversed(notes)), RESULTS)
    begin, end = region_markers()
    assert first.count(begin) == 1 and first.rstrip().endswith(end)
    region = render_dashboard_region(experiments, notes, RESULTS)
    assert f"{begin}\n{region}{end}" in first


def test_dashboard_rows(vault):
    notes, experiments = vault
    text = render_dashboard(experiments, notes, RESULTS)
    rows = [line for line in text.splitlines() if line.startswith("| [[")]
    assert [r.split("\\|")[0] for r in rows] == ["| [[papers/000_b", "| [[papers/001_a", "| [[papers/002_c"]
    distillation = rows[1]
    assert "📚 To Read" in distillation  # mojibake repaired
    assert '<progress value="67" max="100"></progress> 67 %' in distillation  # "/" counts as checked
    assert "HTER 20.00 % · AUC 80.00 %" in distillation and "vaultlab/results/r-new" in distillation
    assert "2 runs" in distillation
    assert "same paper as [[papers/000_b\\|000_depthseg]]" in distillation
    assert "Reading \\| skimmed" in rows[0]  # a "|" in user text cannot break the table
    assert all(row.count(" | ") + row.count("\\|") >= 6 for row in rows)
    assert "no method card" in rows[2] and "| — |" in rows[2]  # empty status
    assert "```dataview\nTABLE experiment, protocol, hter, auc, acer, seed\nFROM \"vaultlab/results\"" in text


def test_custom_link_style(vault):
    notes, experiments = vault
    text = render_dashboard(experiments, notes, {}, lambda target, label: f"[{label}]({target.replace(' ', '%20')})")
    assert "[001_distillation](papers/001_a.md)" in text


def test_seed_vault_dashboard_shows_cards():
    notes = [read_note(p, EXAMPLE_VAULT) for p in sorted(EXAMPLE_VAULT.glob("*.md"))]
    text = render_dashboard(resolve_vault(notes, load_catalog()), notes, {})
    for card in ("anomaly", "onesidetriplet", "distillation", "depthseg"):
        assert f"→ `{card}`" in text
    assert text.count("same paper as") == 2


def test_runs_base_is_valid_yaml():
    base = yaml.safe_load(render_runs_base())
    assert base["filters"] == {"and": ['file.inFolder("vaultlab/results")']}
    (view,) = base["views"]
    assert view["type"] == "table" and view["groupBy"] == {"property": "experiment", "direction": "ASC"}
    assert view["order"] == ["file.name", "experiment", "protocol", "hter", "auc", "acer", "seed"]
    assert view["summaries"] == {"hter": "Average", "auc": "Average"}
