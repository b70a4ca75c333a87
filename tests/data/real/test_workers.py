"""Worker processes: results in record order whatever finishes first, and nothing left running."""

from __future__ import annotations

import multiprocessing

import numpy as np

from vaultlab.data.real import workers
from vaultlab.data.real.crops import crop_or_message
from vaultlab.data.real.faces import FaceDetector
from vaultlab.data.real.layouts import discover_dataset
from vaultlab.data.real.prepare import PrepareSettings

SPEC = PrepareSettings(frames="6+mid", size=32).crop_spec


def test_results_come_in_record_order_with_little_read_ahead(trees, monkeypatch):
    records = discover_dataset("replay-attack", trees["replay-attack"]).records
    monkeypatch.setattr(workers, "AHEAD", 1)  # at most one video per worker past the oldest unfinished one
    got = list(workers.crop_in_workers(records, SPEC, 3))
    detector = FaceDetector()
    expected = [crop_or_message(r, SPEC, detector) for r in records]
    assert [g.frame_indices for g in got] == [e.frame_indices for e in expected]
    assert all(np.array_equal(g.images, e.images) for g, e in zip(got, expected))
    assert multiprocessing.active_children() == []


def test_closing_early_stops_the_workers(trees):
    records = discover_dataset("replay-attack", trees["replay-attack"]).records
    results = workers.crop_in_workers(records, SPEC, 2)
    next(results)
    results.close()
    assert multiprocessing.active_children() == []
