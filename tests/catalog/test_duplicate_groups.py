"""Notes on one paper form one group: one warning per group, and storage linear in its size."""

from __future__ import annotations

import json
import tracemalloc

from tests.catalog.conftest import make_note
from vaultlab.catalog import load_catalog, resolve_vault
from vaultlab.catalog.resolve import _flag_duplicate_papers

TITLE = "Deep Anomaly Detection for Generalized Face Anti-Spoofing"


def test_a_group_of_notes_on_one_paper_is_reported_once():
    notes = [make_note(f"{name}.md", {"Method": "Anomaly"}, title=TITLE) for name in ("a", "b", "c")]
    notes.append(make_note("d.md", {"Method": "Anomaly"}, title="A different paper on face anti-spoofing"))
    exps = resolve_vault(notes, load_catalog())
    warnings = [d for e in exps for d in e.diagnostics if "same paper" in d.message]
    assert len(warnings) == 1 and warnings[0].path == "a.md"
    assert "same paper in 3 notes: a.md, b.md, c.md (same title)" in warnings[0].message
    assert [e.duplicates for e in exps] == [["anomaly-2", "anomaly-3"], ["anomaly", "anomaly-3"], ["anomaly", "anomaly-2"], []]
    assert json.loads(json.dumps(list(exps[1].duplicates))) == ["anomaly", "anomaly-3"]
    assert exps[2].duplicates[:1] == ["anomaly"] and len(exps[2].duplicates) == 2


def test_a_big_group_costs_memory_linear_in_its_size():
    notes = [make_note(f"n{i:04d}.md", {"Method": "Anomaly"}, title=TITLE) for i in range(600)]
    exps = resolve_vault(notes, load_catalog())
    for exp in exps:
        exp.duplicates, exp.diagnostics = [], []
    tracemalloc.start()
    _flag_duplicate_papers(exps, {n.relpath: n for n in notes})
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(exps[0].duplicates) == 599
    assert peak < 600 * 600 * 8 / 4  # a list of the others per note would take 600 × 599 pointers (2.9 MB)
