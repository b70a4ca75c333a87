"""metrics.py against numbers worked out by hand (written in the comments)."""

import math

import numpy as np
import pytest

from vaultlab.metrics import (
    Metrics,
    MetricsError,
    ScoreTable,
    aggregate_seeds,
    det_points,
    eer_threshold,
    error_rates_at,
    evaluate,
    format_aggregate,
    format_mean_std,
    roc_points,
    video_level,
)

# 4 bona fide + 6 attacks (3 print-lq, 3 replay-hq).
HAND_SCORE = [0.9, 0.7, 0.55, 0.4, 0.6, 0.3, 0.1, 0.5, 0.8, 0.2]
HAND_LABEL = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
HAND_PAI = ["", "", "", "", "print-lq", "print-lq", "print-lq", "replay-hq", "replay-hq", "replay-hq"]


def table(bona, attacks: dict[str, list[float]], video=None, name="split"):
    score = list(bona) + [s for v in attacks.values() for s in v]
    label = [1] * len(bona) + [0] * (len(score) - len(bona))
    pai = [""] * len(bona) + [p for p, v in attacks.items() for _ in v]
    return ScoreTable(score=np.array(score), label=np.array(label), pai=np.array(pai), video=video, name=name)


# -- error rates at a fixed threshold ---------------------------------------------------------


def test_error_rates_by_hand():
    r = error_rates_at(HAND_SCORE, HAND_LABEL, HAND_PAI, threshold=0.5)
    # bona fide 0.4 < 0.5 rejected → BPCER 1/4
    assert r["bpcer"] == pytest.approx(1 / 4)
    # print-lq: only 0.6 accepted → 1/3; replay-hq: 0.5 (>= is accept) and 0.8 accepted → 2/3
    assert r["apcer_per_pai"] == pytest.approx({"print-lq": 1 / 3, "replay-hq": 2 / 3})
    assert r["apcer"] == pytest.approx(2 / 3) and r["apcer_pai"] == "replay-hq"
    assert r["acer"] == pytest.approx((2 / 3 + 1 / 4) / 2)  # 11/24
    # FAR pools all 6 attacks: 3 accepted → 1/2; HTER = (1/2 + 1/4)/2 = 3/8
    assert r["far"] == pytest.approx(1 / 2) and r["frr"] == r["bpcer"]
    assert r["hter"] == pytest.approx(3 / 8)
    assert (r["n_bona_fide"], r["n_attack"]) == (4, 6)
    assert r["n_attack_per_pai"] == {"print-lq": 3, "replay-hq": 3}


def test_threshold_is_inclusive_accept():
    # At threshold 0.55 the bona fide 0.55 is accepted and replay 0.5 is rejected.
    r = error_rates_at(HAND_SCORE, HAND_LABEL, HAND_PAI, threshold=0.55)
    assert r["bpcer"] == pytest.approx(1 / 4)
    assert r["apcer_per_pai"]["replay-hq"] == pytest.approx(1 / 3)


def test_apcer_tie_picks_alphabetically_first_species():
    r = error_rates_at([0.9, 0.8, 0.1, 0.8, 0.1], [1, 0, 0, 0, 0], ["", "b", "b", "a", "a"], 0.5)
    assert r["apcer"] == 0.5 and r["apcer_pai"] == "a"


# -- EER, AUC, curves ------------------------------------------------------------------------


def test_eer_exact_on_roc_point():
    # bona fide .9 .8 .7 .3, attacks .6 .5 .4 .2: at threshold .6 one attack (.6) is accepted
    # (APCER 1/4) and one bona fide (.3) rejected (BPCER 1/4): the EER lies on a ROC point.
    eer, thr = eer_threshold([0.9, 0.8, 0.7, 0.3, 0.6, 0.5, 0.4, 0.2], [1, 1, 1, 1, 0, 0, 0, 0])
    assert eer == pytest.approx(0.25) and thr == pytest.approx(0.6)


def test_eer_interpolated():
    # bona fide .9 .6, attacks .8 .3 .2. ROC points (fpr, tpr): .8 → (1/3, 1/2), .6 → (1/3, 1).
    # g = fpr + tpr − 1 goes −1/6 → +1/3, crossing at t = 1/3 of the segment:
    # EER = 1/3 (fpr constant), threshold = .8 + (.6 − .8)/3 = 0.7333...
    eer, thr = eer_threshold([0.9, 0.6, 0.8, 0.3, 0.2], [1, 1, 0, 0, 0])
    assert eer == pytest.approx(1 / 3)
    assert thr == pytest.approx(0.8 - 0.2 / 3)


def test_eer_perfect_separation():
    eer, thr = eer_threshold([0.9, 0.7, 0.3, 0.1], [1, 1, 0, 0])
    assert eer == 0.0 and thr == pytest.approx(0.7)  # lowest bona fide score
    assert error_rates_at([0.9, 0.7, 0.3, 0.1], [1, 1, 0, 0], None, thr)["hter"] == 0.0


def test_eer_polarity_inverted_scores_give_high_eer():
    eer, _ = eer_threshold([0.1, 0.3, 0.7, 0.9], [1, 1, 0, 0])
    assert eer == 1.0


def test_eer_close_to_best_balanced_operating_point():
    rng = np.random.default_rng(3)
    score = np.r_[rng.normal(1, 1, 300), rng.normal(-1, 1, 500)]
    label = np.r_[np.ones(300, int), np.zeros(500, int)]
    eer, thr = eer_threshold(score, label)
    # brute force: at every observed threshold the larger of the two error rates
    worst = [max((score[label == 0] >= t).mean(), (score[label == 1] < t).mean()) for t in np.unique(score)]
    assert abs(eer - min(worst)) <= 1 / 300 + 1e-12
    r = error_rates_at(score, label, None, thr)
    assert abs(r["far"] - eer) <= 1 / 300 + 1e-12 and abs(r["frr"] - eer) <= 1 / 300 + 1e-12
    # the Gaussian EER is Φ(−1) ≈ 0.159
    assert eer == pytest.approx(0.1587, abs=0.04)


def test_auc_and_roc_det_by_hand():
    # bona fide .9 .6 vs attacks .8 .6 .2: .9 beats all 3; .6 loses to .8, ties .6 (½), beats .2
    # → (3 + 1.5)/6
    t = evaluate(None, table([0.9, 0.6], {"print": [0.8, 0.6, 0.2]}), policy="test-eer")
    assert t.auc == pytest.approx(4.5 / 6)
    fpr, tpr, thr = roc_points([0.9, 0.6, 0.8, 0.6, 0.2], [1, 1, 0, 0, 0])
    assert np.isinf(thr[0])
    np.testing.assert_allclose(fpr, [0, 0, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 0.5, 1, 1])
    apcer, bpcer, _ = det_points([0.9, 0.6, 0.8, 0.6, 0.2], [1, 1, 0, 0, 0])
    np.testing.assert_allclose(bpcer, [1, 0.5, 0.5, 0, 0])
    np.testing.assert_allclose(apcer, fpr)


# -- evaluate: policies, levels --------------------------------------------------------------

# dev: bona fide .9 .8 .4 .3, attacks .5 .35 .2 .1 → EER 1/4 at threshold .4
DEV = dict(bona=[0.9, 0.8, 0.4, 0.3], attacks={"print-lq": [0.5, 0.35], "replay-hq": [0.2, 0.1]})
# test: bona fide .65 .58 .9 .95; print .55 .1; replay .62 .3 → its own EER 1/4 at threshold .62
TEST = dict(bona=[0.65, 0.58, 0.9, 0.95], attacks={"print-lq": [0.55, 0.1], "replay-hq": [0.62, 0.3]})


def test_dev_eer_threshold_applied_to_test():
    m = evaluate(table(**DEV), table(**TEST), policy="dev-eer")
    assert isinstance(m, Metrics) and not m.is_oracle
    assert (m.policy, m.threshold_split, m.policy_label) == ("dev-eer", "dev", "dev-EER threshold")
    assert m.threshold == pytest.approx(0.4) and m.threshold_split_eer == pytest.approx(0.25)
    # at .4 on test: every bona fide accepted; print .55 and replay .62 accepted
    assert m.bpcer == 0.0
    assert m.apcer_per_pai == pytest.approx({"print-lq": 0.5, "replay-hq": 0.5})
    assert m.apcer == 0.5 and m.acer == pytest.approx(0.25)
    assert m.far == pytest.approx(0.5) and m.hter == pytest.approx(0.25)
    assert m.eer == pytest.approx(0.25)  # test's own EER, threshold-free
    # AUC: .95, .9, .65 beat all 4 attacks; .58 beats .55 .3 .1 → 15/16
    assert m.auc == pytest.approx(15 / 16)
    # operating points with pooled APCER 0 (<= 1 %, <= 5 % with 4 attacks): best TPR 3/4
    assert m.tpr_at_fpr_1pct == pytest.approx(0.75) and m.bpcer_at_apcer_5pct == pytest.approx(0.25)
    assert (m.n_bona_fide, m.n_attack) == (4, 4)


def test_test_eer_is_oracle():
    m = evaluate(table(**DEV), table(**TEST), policy="test-eer")
    assert m.is_oracle and "oracle" in m.policy_label and m.threshold_split == "test"
    assert m.threshold == pytest.approx(0.62)
    # at .62: bona fide .58 rejected (1/4); print none; replay .62 accepted (1/2)
    assert m.bpcer == pytest.approx(0.25)
    assert m.apcer_per_pai == pytest.approx({"print-lq": 0.0, "replay-hq": 0.5})
    assert m.acer == pytest.approx(0.375) and m.hter == pytest.approx(0.25)
    assert "oracle" in m.to_dict()["policy_label"]
    # dev is not needed for the oracle
    assert evaluate(None, table(**TEST), policy="test-eer") == m


def test_to_dict_percent():
    m = evaluate(table(**DEV), table(**TEST))
    d = m.to_dict()
    assert d["percent"] is True and d["acer"] == 25.0 and d["auc"] == 93.75
    assert d["apcer_per_pai"] == {"print-lq": 50.0, "replay-hq": 50.0}
    assert d["threshold"] == pytest.approx(0.4)  # a score, not a rate: never scaled
    f = m.to_dict(percent=False)
    assert f["acer"] == 0.25 and f["percent"] is False


def test_video_level_mean_and_evaluate():
    t = ScoreTable(
        score=[0.25, 0.75, 0.875, 0.125, 0.25, 0.5],  # binary fractions: the means are exact
        label=[1, 1, 0, 0, 0, 1],
        pai=["", "", "print", "print", "print", ""],
        video=["v1", "v1", "a1", "a1", "a2", "v2"],
    )
    v = video_level(t)
    assert v.video.tolist() == ["a1", "a2", "v1", "v2"]
    np.testing.assert_allclose(v.score, [0.5, 0.25, 0.5, 0.5])
    assert v.label.tolist() == [0, 0, 1, 1] and v.pai.tolist() == ["print", "print", "", ""]
    m = evaluate(None, t, policy="test-eer", level="video")
    assert (m.level, m.n_bona_fide, m.n_attack) == ("video", 2, 2)
    # videos: bona fide .5 .5 vs attacks .5 .25 → pairs ½ + 1 + ½ + 1 → AUC 3/4
    assert m.auc == pytest.approx(0.75)


def test_video_level_rejects_mixed_labels():
    t = ScoreTable(score=[0.2, 0.4, 0.9], label=[1, 0, 0], pai=["", "print", "print"], video=["v", "v", "w"])
    with pytest.raises(MetricsError, match="video"):
        video_level(t)


# -- degenerate input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(score=[], label=[]), "empty"),
        (dict(score=[0.1, 0.2], label=[1]), "2 scores but 1 labels"),
        (dict(score=[0.1, float("nan")], label=[1, 0]), "NaN"),
        (dict(score=[0.1, 0.2], label=[1, 2]), "labels must be"),
        (dict(score=[0.1, 0.2], label=[1, 0], pai=["print", "print"]), "bona fide rows"),
        (dict(score=[0.1, 0.2], label=[1, 0], pai=["", ""]), "attack row"),
        (dict(score=[0.1, 0.2], label=[1, 0], video=["a"]), "video ids"),
    ],
)
def test_score_table_rejects(kwargs, match):
    with pytest.raises(MetricsError, match=match):
        ScoreTable(**kwargs)


def test_one_class_splits_raise():
    only_bona = ScoreTable(score=[0.1, 0.9], label=[1, 1])
    only_attack = ScoreTable(score=[0.1, 0.9], label=[0, 0], pai=["p", "p"])
    with pytest.raises(MetricsError, match="test: no attack"):
        evaluate(table(**DEV), only_bona)
    with pytest.raises(MetricsError, match="dev: no bona fide"):
        evaluate(only_attack, table(**TEST))
    with pytest.raises(MetricsError, match="no attack"):
        eer_threshold([0.1, 0.9], [1, 1])
    with pytest.raises(MetricsError, match="no bona fide"):
        error_rates_at([0.1, 0.9], [0, 0], None, 0.5)


def test_policy_errors():
    with pytest.raises(MetricsError, match="needs a dev split"):
        evaluate(None, table(**TEST), policy="dev-eer")
    with pytest.raises(MetricsError, match="unknown threshold policy"):
        evaluate(table(**DEV), table(**TEST), policy="best")
    with pytest.raises(MetricsError, match="unknown level"):
        evaluate(table(**DEV), table(**TEST), level="subject")
    with pytest.raises(MetricsError, match="not finite"):
        error_rates_at(HAND_SCORE, HAND_LABEL, HAND_PAI, float("nan"))


# -- seeds ------------------------------------------------------------------------------------


def test_aggregate_seeds():
    runs = [{"policy": "dev-eer", "level": "frame", "percent": True, "hter": h, "apcer_per_pai": {"print": a}} for h, a in [(10, 1), (12, 2), (14, 6)]]
    agg = aggregate_seeds(runs)
    mean, std, n = agg["hter"]
    assert (mean, n) == (12.0, 3) and std == pytest.approx(2.0)  # sample std (ddof=1)
    assert agg["apcer_per_pai/print"] == (pytest.approx(3.0), pytest.approx(math.sqrt(7)), 3)
    assert "policy" not in agg and "percent" not in agg
    assert format_mean_std(*agg["hter"]) == "12.0 ± 2.0 (n=3)"
    assert format_aggregate(agg)["hter"] == "12.0 ± 2.0 (n=3)"
    assert aggregate_seeds(runs[:1])["hter"] == (10.0, 0.0, 1)


def test_aggregate_real_metrics_and_refuses_mixed_policies():
    honest = evaluate(table(**DEV), table(**TEST)).to_dict()
    oracle = evaluate(table(**DEV), table(**TEST), policy="test-eer").to_dict()
    agg = aggregate_seeds([honest, honest])
    assert agg["acer"] == (25.0, 0.0, 2)
    with pytest.raises(MetricsError, match="mix policy"):
        aggregate_seeds([honest, oracle])
    with pytest.raises(MetricsError, match="mix percent"):
        aggregate_seeds([honest, evaluate(table(**DEV), table(**TEST)).to_dict(percent=False)])
    with pytest.raises(MetricsError, match="no runs"):
        aggregate_seeds([])


# -- bootstrap intervals and paired comparisons -------------------------------------------------

from vaultlab.metrics import Interval, _weighted_auc, paired_comparison, run_interval  # noqa: E402


def gaussian_run(shift: float, seed: int, n: int = 300, frames: int = 2):
    """(dev, test) frame tables: bona fide ~ N(shift, 1), attacks ~ N(0, 1) per video, ``frames`` frames each."""
    rng = np.random.default_rng(seed)

    def split(name, offset):
        label = np.repeat(np.r_[np.ones(n), np.zeros(n)].astype(int), frames)
        video_mean = np.r_[rng.normal(shift, 1, n), rng.normal(0, 1, n)]
        score = 1 / (1 + np.exp(-(np.repeat(video_mean, frames) + 0.3 * rng.normal(size=2 * n * frames))))
        video = np.repeat([f"{name}{offset + i:05d}" for i in range(2 * n)], frames)
        return ScoreTable(score, label, np.where(label == 1, "", "print-lq"), video, name=name)

    return split("dev", 0), split("test", 0)


def test_weighted_auc_is_the_auc_of_the_repeated_rows():
    from sklearn.metrics import roc_auc_score

    s_bf, s_at = np.array([0.9, 0.5, 0.5, 0.2]), np.array([0.5, 0.1, 0.6])  # ties between classes count ½
    w_bf, w_at = np.array([[1, 1, 1, 1], [2, 0, 1, 3]]), np.array([[1, 1, 1], [0, 2, 1]])
    got = _weighted_auc(s_bf, s_at, w_bf.astype(float), w_at.astype(float))
    for row, (wb, wa) in enumerate(zip(w_bf, w_at)):
        score = np.r_[np.repeat(s_bf, wb), np.repeat(s_at, wa)]
        label = np.r_[np.ones(wb.sum()), np.zeros(wa.sum())]
        assert got[row] == pytest.approx(100 * roc_auc_score(label, score))


def test_paired_comparison_of_an_arm_with_itself_is_exactly_zero():
    runs = [gaussian_run(1.0, s) for s in range(3)]
    out = paired_comparison(runs, runs, n_boot=200)
    for metric in ("hter", "auc"):
        assert (out[metric].value, out[metric].low, out[metric].high) == (0.0, 0.0, 0.0)
        assert out[metric].verdict == "no clear difference" and out[metric].n_seeds == 3


def test_paired_comparison_finds_a_real_difference_and_its_direction():
    good = [gaussian_run(2.5, s) for s in range(3)]
    weak = [gaussian_run(0.8, 10 + s) for s in range(3)]
    # the same test videos in every run: pairing needs that
    weak = [(dev, ScoreTable(t.score, g[1].label, g[1].pai, g[1].video)) for (dev, t), g in zip(weak, good)]
    out = paired_comparison(good, weak, n_boot=500)
    assert out["hter"].high < 0 and out["hter"].verdict == "better"  # lower HTER is better
    assert out["auc"].low > 0 and out["auc"].verdict == "better"  # higher AUC is better
    assert out["hter"].low <= out["hter"].value <= out["hter"].high
    back = paired_comparison(weak, good, n_boot=500)
    assert back["hter"].verdict == "worse" and back["auc"].verdict == "worse"
    assert back["hter"].value == pytest.approx(-out["hter"].value)


def test_paired_comparison_refuses_runs_on_different_test_videos():
    a, b = gaussian_run(1.0, 0), gaussian_run(1.0, 1)
    moved = (b[0], ScoreTable(b[1].score, b[1].label, b[1].pai, np.char.add(b[1].video, "x")))
    with pytest.raises(MetricsError, match="same test split"):
        paired_comparison([a], [moved], n_boot=10)
    with pytest.raises(MetricsError, match="pair them by seed"):
        paired_comparison([a, a], [a], n_boot=10)


def test_verdict_only_when_the_interval_excludes_zero():
    def iv(metric, low, high):
        return Interval(metric, (low + high) / 2, low, high, 0.95, 3, 10, 10, 100)

    assert iv("hter", -3, -0.1).verdict == "better" and iv("hter", 0.1, 3).verdict == "worse"
    assert iv("auc", 0.1, 3).verdict == "better" and iv("auc", -3, -0.1).verdict == "worse"
    assert iv("hter", -3, 0.0).verdict == iv("auc", -0.5, 2).verdict == "no clear difference"


def test_run_interval_width_follows_the_binomial_error():
    dev, test = gaussian_run(1.0, 0, n=600)
    hter = run_interval(dev, test, n_boot=1000)["hter"]
    m = evaluate(dev, test, level="video")
    assert hter.value == pytest.approx(100 * m.hter) and hter.n_bona_fide == hter.n_attack == 600
    p_far, p_frr = m.far, m.frr  # HTER = (FAR + FRR)/2 over 600 + 600 independent videos
    se = 100 * 0.5 * math.sqrt(p_far * (1 - p_far) / 600 + p_frr * (1 - p_frr) / 600)
    assert hter.half_width() == pytest.approx(1.96 * se, rel=0.2)
