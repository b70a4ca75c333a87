"""Results rows and the result note's per-seed table, from real run directories holding synthetic scores."""

from __future__ import annotations

import numpy as np
import pytest

from vaultlab.metrics import evaluate
from vaultlab.report.result_note import level_tables, seed_table
from vaultlab.report.result_rows import result_rows, summarise
from vaultlab.runner import RunOutcome, RunPlan, metrics_from_rows, score_table
from vaultlab.runs import RunStore

SHIFTS = {"method": 2.5, "baseline": 0.5, "teacher": 3.5}  # the teacher is best: it must not be hidden


def plan(seeds) -> RunPlan:
    return RunPlan(experiment_id="003_distillation", note_relpath="003.md", paper_title="t", card_id="distillation",
                   recipe="distillation", variant=None, components={}, hp={}, protocol="adapt:D0->D1", profile="quick", seeds=seeds)


def outcome(tmp_path, p: RunPlan, seed: int, n: int = 200) -> RunOutcome:
    rng = np.random.default_rng(seed)
    rows = []
    for arm, shift in SHIFTS.items():
        for split in ("dev", "test"):
            for i in range(2 * n):
                bona_fide = i < n
                mean = rng.normal(shift if bona_fide else 0.0, 1.0)
                for frame in range(2):  # two frames per video, so frame and video level differ
                    rows.append({"split": split, "arm": arm, "video": f"{split}-{i:04d}", "pai": "" if bona_fide else "print-lq",
                                 "label": int(bona_fide), "score": float(1 / (1 + np.exp(-(mean + rng.normal(0, 1.0)))))})
    run = RunStore(tmp_path).get(p.run_id(seed))
    run.path.mkdir(parents=True, exist_ok=True)
    run.write_scores(rows)
    return RunOutcome(p, seed, run, metrics_from_rows(run.read_scores()), {}, {a: a for a in SHIFTS}, [], 1.0)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    root = tmp_path_factory.mktemp("vault")
    p = plan([0, 1, 2])
    return [outcome(root, p, s) for s in p.seeds]


def test_rows_show_mean_std_n_a_verdict_and_every_arm(outcomes):
    rows = result_rows(outcomes[0].plan, outcomes, "SynthFAS adapt:D0->D1", "vaultlab/results")
    assert [r["Metric"] for r in rows] == ["HTER (%), dev-EER, quick", "AUC (%), dev-EER, quick",
                                          "HTER (%), dev-EER, quick, vs teacher", "AUC (%), dev-EER, quick, vs teacher"]
    assert all(r["Result"].startswith("[[vaultlab/results/") and "(n=3)]]" in r["Result"] and " ± " in r["Result"] for r in rows)
    hter_vs_baseline, auc_vs_baseline, hter_vs_teacher, _ = (r["Baseline"] for r in rows)
    assert hter_vs_baseline.endswith(": better") and auc_vs_baseline.endswith(": better") and "95 % CI" in hter_vs_baseline
    assert hter_vs_teacher.startswith("teacher: ") and hter_vs_teacher.endswith(": worse")
    # the method's mean is the mean of the per-seed numbers each result note reports
    mean = np.mean([o.metrics["method"]["dev-eer"]["hter"] for o in outcomes])
    assert f"{mean:.2f} ± " in rows[0]["Result"]


def test_numbers_recompute_from_scores_csv(outcomes):
    summary = summarise(outcomes)
    for i, o in enumerate(outcomes):
        rows = o.run.read_scores()
        m = evaluate(score_table(rows, "teacher", "dev"), score_table(rows, "teacher", "test"), level="video")
        assert summary.per_seed["teacher"][i]["hter"] == pytest.approx(100 * m.hter, abs=0.005)


def test_per_seed_table_links_the_other_seeds(outcomes):
    table = seed_table(outcomes[1], outcomes)
    assert table["arms"] == ["method", "baseline", "teacher"]
    assert [r["seed"].startswith("[[") for r in table["rows"]] == [True, False, True]
    assert len(table["rows"][0]["values"]) == len(table["means"]) == 6
    assert {c["arm"] for c in table["comparisons"]} == {"baseline", "teacher"}


def test_plots_use_the_level_of_the_table(outcomes):
    """Finding 7: the ROC legend (AUC) and the metrics table must be computed from the same (video) scores."""
    from sklearn.metrics import roc_auc_score

    rows = outcomes[0].run.read_scores()
    video = level_tables(rows, "test", "video")["method"]
    frame = level_tables(rows, "test", "frame")["method"]
    table_auc = outcomes[0].metrics["method"]["dev-eer"]["auc"]
    assert len(video) * 2 == len(frame)
    assert 100 * roc_auc_score(video.label, video.score) == pytest.approx(table_auc, abs=0.005)
    assert 100 * roc_auc_score(frame.label, frame.score) != pytest.approx(table_auc, abs=0.005)


def test_a_threshold_that_accepts_everything_is_called_out():
    from vaultlab.report.result_note import threshold_warnings

    ok = {"far": 10.0, "frr": 12.0}
    accept_all = {"far": 100.0, "frr": 0.0}
    warnings = threshold_warnings({"method": {"dev-eer": accept_all}, "teacher": {"dev-eer": ok}})
    assert warnings == ["method: its threshold accepts every test presentation (HTER 50 by construction)"]


def test_a_write_back_computes_each_experiments_summary_once(outcomes, tmp_path, monkeypatch):
    """A write-back renders every experiment's result notes, then every paper note's Results rows: the
    second pass must reuse the first's bootstrap even when another experiment's summary came between."""
    from vaultlab.report import result_rows as module

    other = [outcome(tmp_path, plan([5]), 5, n=20)]
    calls = []
    real = module.paired_comparison
    monkeypatch.setattr(module, "paired_comparison", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(module, "_CACHE", {})
    first = summarise(outcomes)
    summarise(other)
    n = len(calls)
    assert summarise(outcomes) is first and len(calls) == n


def test_a_result_notes_interval_is_computed_once_per_finished_run(outcomes, monkeypatch):
    """A collect renders each result note twice (the writes, then the sync after them); a retrained run
    (`--force`: same run id, new end time) gets a new interval."""
    from vaultlab import metrics
    from vaultlab.report import result_note as module

    calls = []
    real = metrics.run_interval
    monkeypatch.setattr(metrics, "run_interval", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(module, "_INTERVALS", {})
    first = module._hter_interval(outcomes[0], "video")
    assert module._hter_interval(outcomes[0], "video") == first and len(calls) == 1
    run = outcomes[0].run
    run.write_json("status.json", {**(run.read_json("status.json") or {}), "ended": 4.0e9})
    module._hter_interval(outcomes[0], "video")
    assert len(calls) == 2
