"""ISO/IEC 30107-3 presentation-attack-detection metrics: the one place scores become numbers.

Conventions (explicit, shared with ``data/sampleset.py``):

- ``score`` is the probability of **bona fide**: higher means more bona fide. (GRAD-GPAD uses the
  opposite polarity; SSDG and CDCN use this one.)
- ``label`` is 1 for bona fide, 0 for attack. ``pai`` names the attack species ("print-lq"), "" for
  bona fide.
- A presentation is **accepted as bona fide when score >= threshold**.
- APCER_PAI = share of attacks of species PAI accepted; ``apcer`` = max over species (the worst case,
  as OULU-NPU / GRAD-GPAD report it); BPCER = share of bona fide rejected;
  ACER = (max APCER + BPCER) / 2.
- FAR = APCER pooled over all attacks (every attack presentation counts once, whatever its species);
  FRR = BPCER; HTER = (FAR + FRR) / 2. This is the HTER of the OCIM and GRAD-GPAD codes.
- EER: the point of the ROC where pooled APCER (FPR) = BPCER (1 − TPR), linearly interpolated between
  ROC points (as gradgpad's ``eer.py`` does with brentq); its threshold is interpolated the same way.
- Threshold policies: ``dev-eer`` (default, honest: EER threshold of the dev split applied to test)
  and ``test-eer`` (the OCIM literature's convention: the EER threshold of test itself). The latter
  is optimistic and always carries the label ``oracle``. Results from the two never mix
  (``aggregate_seeds`` refuses).
- Video level: a video's score is the mean of its frame scores (SSDG ``evaluate.py``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from typing import Any, Iterable, Literal, Mapping, Sequence

import numpy as np

from vaultlab.data.sampleset import ATTACK, BONA_FIDE


Policy = Literal["dev-eer", "test-eer"]
Level = Literal["frame", "video"]

POLICIES: dict[str, tuple[str, str]] = {
    # policy -> (split the threshold comes from, label printed everywhere)
    "dev-eer": ("dev", "dev-EER threshold"),
    "test-eer": ("test", "oracle (test-EER threshold)"),
}
LEVELS = ("frame", "video")

# Keys of Metrics.to_dict that are rates in [0, 1] (scaled by 100 when percent=True).
RATE_FIELDS = (
    "apcer", "bpcer", "acer", "far", "frr", "hter", "eer", "auc",
    "tpr_at_fpr_1pct", "bpcer_at_apcer_5pct", "threshold_split_eer",
)  # fmt: skip


class MetricsError(ValueError):
    """Scores that cannot give an honest number (empty, NaN, one class missing, ...)."""


# -- input -----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # eq would compare arrays elementwise
class ScoreTable:
    """Scores of one split with what is needed to evaluate them, one row per frame (or video).

    ``pai`` defaults to "attack" for attacks and "" for bona fide; ``video`` defaults to one video
    per row. Validation happens on construction so that every later error is about the numbers.
    """

    score: np.ndarray
    label: np.ndarray
    pai: np.ndarray | None = None
    video: np.ndarray | None = None
    name: str = "split"

    def __post_init__(self) -> None:
        score = np.asarray(self.score, dtype=np.float64).reshape(-1)
        label = np.asarray(self.label).reshape(-1)
        n = len(score)
        if n == 0:
            raise MetricsError(f"{self.name}: no scores (empty split)")
        if len(label) != n:
            raise MetricsError(f"{self.name}: {n} scores but {len(label)} labels")
        _check_scores(score, self.name)
        label = _check_labels(label, self.name)
        if self.pai is None:
            pai = np.where(label == BONA_FIDE, "", "attack")
        else:
            pai = np.asarray(self.pai).astype(str).reshape(-1)
            if len(pai) != n:
                raise MetricsError(f"{self.name}: {n} scores but {len(pai)} pai entries")
            _check_pai(label, pai, self.name)
        if self.video is None:
            video = np.array([f"#{i}" for i in range(n)])
        else:
            video = np.asarray(self.video).astype(str).reshape(-1)
            if len(video) != n:
                raise MetricsError(f"{self.name}: {n} scores but {len(video)} video ids")
        object.__setattr__(self, "score", score)
        object.__setattr__(self, "label", label)
        object.__setattr__(self, "pai", pai)
        object.__setattr__(self, "video", video)

    @classmethod
    def from_samples(cls, samples: Any, score: Sequence[float], name: str = "split") -> "ScoreTable":
        """Pair a ``SampleSet`` (label, pai, video columns) with one score per row."""
        return cls(score=np.asarray(score), label=samples.label, pai=samples.pai, video=samples.video, name=name)

    def __len__(self) -> int:
        return len(self.score)

    @property
    def n_bona_fide(self) -> int:
        return int((self.label == BONA_FIDE).sum())

    @property
    def n_attack(self) -> int:
        return int((self.label == ATTACK).sum())

    def pais(self) -> list[str]:
        return sorted({p for p in self.pai.tolist() if p})

    def video_level(self) -> "ScoreTable":
        return video_level(self)


def video_level(table: ScoreTable) -> ScoreTable:
    """One row per video, score = mean of its frame scores; rows sorted by video id.

    Every frame of a video must share label and pai, otherwise ``MetricsError``.
    """
    videos, first, inverse = np.unique(table.video, return_index=True, return_inverse=True)
    counts = np.bincount(inverse, minlength=len(videos))
    mean = np.bincount(inverse, weights=table.score, minlength=len(videos)) / counts
    label, pai = table.label[first], table.pai[first]
    bad_label = table.label != label[inverse]
    bad_pai = table.pai != pai[inverse]
    if bad_label.any() or bad_pai.any():
        bad = sorted(set(table.video[bad_label | bad_pai].tolist()))
        raise MetricsError(
            f"{table.name}: label or pai differ between frames of video(s) {bad[:5]}"
            + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        )
    return ScoreTable(score=mean, label=label, pai=pai, video=videos, name=table.name)


# -- curves ----------------------------------------------------------------------------------


def roc_points(score: Sequence[float], label: Sequence[int], name: str = "split") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC as (fpr, tpr, thresholds), bona fide = positive class.

    fpr = pooled APCER and tpr = 1 − BPCER at "accept when score >= threshold". All points are kept
    (no ``drop_intermediate``) so that interpolation is exact. ``thresholds[0]`` is +inf
    (nothing accepted).
    """
    score, label = _check_binary(score, label, name)
    from sklearn.metrics import roc_curve  # here, not at the top: collect/sync read metrics without ROC (sklearn takes seconds to import)

    fpr, tpr, thr = roc_curve(label, score, pos_label=BONA_FIDE, drop_intermediate=False)
    return fpr, tpr, thr


def det_points(score: Sequence[float], label: Sequence[int], name: str = "split") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DET as (apcer, bpcer, thresholds): pooled APCER (FAR) and BPCER (FRR) at every threshold."""
    fpr, tpr, thr = roc_points(score, label, name)
    return fpr, 1.0 - tpr, thr


def eer_threshold(score: Sequence[float], label: Sequence[int], name: str = "split") -> tuple[float, float]:
    """(EER, threshold) where pooled APCER = BPCER, interpolated linearly on the ROC.

    Along the ROC (thresholds decreasing) g = fpr − (1 − tpr) increases strictly from −1 to +1, so
    the crossing g = 0 lies on one segment [i−1, i]; the EER and the threshold are interpolated
    with the same fraction t on that segment (gradgpad does the same with brentq + interp1d).
    The first ROC point (threshold +inf) is anchored at the highest score, so the threshold never
    leaves the observed score range. With perfectly separated classes the EER is 0 and the
    threshold is the lowest bona fide score.
    """
    fpr, tpr, thr = roc_points(score, label, name)
    thr = thr.copy()
    thr[0] = thr[1]
    g = fpr - (1.0 - tpr)
    i = int(np.argmax(g >= 0.0))  # first point on or past the EER line; g[0] = −1 < 0, g[-1] = 1
    t = -g[i - 1] / (g[i] - g[i - 1])
    eer = fpr[i - 1] + t * (fpr[i] - fpr[i - 1])
    threshold = thr[i - 1] + t * (thr[i] - thr[i - 1])
    return float(eer), float(threshold)


def _best_tpr_at_fpr(fpr: np.ndarray, tpr: np.ndarray, max_fpr: float) -> float:
    """Largest TPR among operating points with FPR <= max_fpr (an achievable threshold, no interpolation)."""
    return float(tpr[fpr <= max_fpr + 1e-12].max())


# -- error rates at a threshold ---------------------------------------------------------------


def error_rates_at(
    score: Sequence[float], label: Sequence[int], pai: Sequence[str] | None, threshold: float, name: str = "split"
) -> dict[str, Any]:
    """ISO/IEC 30107-3 error rates at ``threshold`` (accept as bona fide when score >= threshold).

    Returns a dict (rates in [0, 1]):
    ``apcer_per_pai`` {species: APCER}, ``apcer`` (max over species), ``apcer_pai`` (the worst
    species), ``bpcer``, ``acer`` = (apcer + bpcer)/2, ``far`` (APCER pooled over all attacks),
    ``frr`` (= bpcer), ``hter`` = (far + frr)/2, ``threshold``, ``n_bona_fide``, ``n_attack``,
    ``n_attack_per_pai``.
    """
    table = ScoreTable(score=score, label=label, pai=pai, name=name)
    _require_both_classes(table)
    if not math.isfinite(float(threshold)):
        raise MetricsError(f"{name}: threshold {threshold!r} is not finite")
    accepted = table.score >= threshold
    bona_fide = table.label == BONA_FIDE
    attack = ~bona_fide
    apcer_per_pai = {p: float(accepted[table.pai == p].mean()) for p in table.pais()}
    worst = max(apcer_per_pai, key=apcer_per_pai.__getitem__)  # ties: the alphabetically first species
    bpcer = float((~accepted[bona_fide]).mean())
    far = float(accepted[attack].mean())
    apcer = apcer_per_pai[worst]
    return {
        "threshold": float(threshold),
        "apcer_per_pai": apcer_per_pai,
        "apcer": apcer,
        "apcer_pai": worst,
        "bpcer": bpcer,
        "acer": (apcer + bpcer) / 2.0,
        "far": far,
        "frr": bpcer,
        "hter": (far + bpcer) / 2.0,
        "n_bona_fide": table.n_bona_fide,
        "n_attack": table.n_attack,
        "n_attack_per_pai": {p: int((table.pai == p).sum()) for p in table.pais()},
    }


# -- evaluation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metrics:
    """Test-split metrics at a threshold chosen by a named policy. Rates are fractions in [0, 1]."""

    policy: str  # "dev-eer" | "test-eer"
    policy_label: str  # "dev-EER threshold" | "oracle (test-EER threshold)"
    threshold: float
    threshold_split: str  # split the threshold was computed on: "dev" | "test"
    threshold_split_eer: float  # EER of that split at its own EER threshold
    level: str  # "frame" | "video"
    apcer_per_pai: dict[str, float]
    apcer: float  # max over PAI species
    apcer_pai: str  # the species that attains the max
    bpcer: float
    acer: float  # (apcer + bpcer) / 2
    far: float  # APCER pooled over all attacks
    frr: float  # = bpcer
    hter: float  # (far + frr) / 2
    eer: float  # test split at its own EER threshold (threshold-free)
    auc: float  # test ROC AUC, bona fide positive
    tpr_at_fpr_1pct: float  # bona fide acceptance at pooled APCER <= 1 %
    bpcer_at_apcer_5pct: float  # BPCER at pooled APCER <= 5 %
    n_bona_fide: int  # test rows (frames or videos) per class
    n_attack: int
    n_attack_per_pai: dict[str, int] = field(default_factory=dict)

    @property
    def is_oracle(self) -> bool:
        return self.policy == "test-eer"

    def to_dict(self, percent: bool = True) -> dict[str, Any]:
        """Plain dict for result notes. ``percent``: rates × 100 rounded to 2 decimals (else 4)."""
        out = asdict(self)
        scale, digits = (100.0, 2) if percent else (1.0, 4)
        for key in RATE_FIELDS:
            out[key] = round(out[key] * scale, digits)
        out["apcer_per_pai"] = {p: round(v * scale, digits) for p, v in self.apcer_per_pai.items()}
        out["threshold"] = round(self.threshold, 6)
        out["percent"] = percent
        return out


def evaluate(
    dev: ScoreTable | None,
    test: ScoreTable,
    policy: Policy = "dev-eer",
    level: Level = "frame",
) -> Metrics:
    """Metrics of ``test`` at the EER threshold of ``dev`` (``dev-eer``) or of ``test`` (``test-eer``, oracle).

    ``level="video"`` first averages frame scores per video on both splits. ``dev`` may be None
    only for ``test-eer``. TPR@FPR=1 % and BPCER@APCER=5 % use pooled APCER and the best achievable
    operating point with APCER at or below the target (no interpolation, so never optimistic).
    """
    if policy not in POLICIES:
        raise MetricsError(f"unknown threshold policy {policy!r}; expected one of {sorted(POLICIES)}")
    if level not in LEVELS:
        raise MetricsError(f"unknown level {level!r}; expected one of {list(LEVELS)}")
    threshold_split, policy_label = POLICIES[policy]
    if threshold_split == "dev" and dev is None:
        raise MetricsError("policy 'dev-eer' needs a dev split; pass policy='test-eer' for the oracle convention")
    test = replace(test, name="test")  # error messages name the split
    dev = replace(dev, name="dev") if dev is not None else None
    if level == "video":
        test = video_level(test)
        dev = video_level(dev) if dev is not None else None
    _require_both_classes(test)
    source = dev if threshold_split == "dev" else test
    assert source is not None
    _require_both_classes(source)
    source_eer, threshold = eer_threshold(source.score, source.label, source.name)
    test_eer = source_eer if source is test else eer_threshold(test.score, test.label, "test")[0]
    rates = error_rates_at(test.score, test.label, test.pai, threshold, "test")
    fpr, tpr, _ = roc_points(test.score, test.label, "test")
    return Metrics(
        policy=policy,
        policy_label=policy_label,
        threshold=threshold,
        threshold_split=threshold_split,
        threshold_split_eer=source_eer,
        level=level,
        apcer_per_pai=rates["apcer_per_pai"],
        apcer=rates["apcer"],
        apcer_pai=rates["apcer_pai"],
        bpcer=rates["bpcer"],
        acer=rates["acer"],
        far=rates["far"],
        frr=rates["frr"],
        hter=rates["hter"],
        eer=test_eer,
        auc=_auc(test.label, test.score),
        tpr_at_fpr_1pct=_best_tpr_at_fpr(fpr, tpr, 0.01),
        bpcer_at_apcer_5pct=1.0 - _best_tpr_at_fpr(fpr, tpr, 0.05),
        n_bona_fide=rates["n_bona_fide"],
        n_attack=rates["n_attack"],
        n_attack_per_pai=rates["n_attack_per_pai"],
    )


# -- several seeds ----------------------------------------------------------------------------

# Keys that must agree across runs before they may be averaged (they define the convention).
_CONVENTION_KEYS = ("policy", "level", "percent")


def _auc(label: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(label, score))


def aggregate_seeds(results: Iterable[Mapping[str, Any]]) -> dict[str, tuple[float, float, int]]:
    """{metric: (mean, std, n)} over runs (``Metrics.to_dict`` outputs), std with ddof=1 (0 when n = 1).

    Numeric entries are averaged; nested dicts (``apcer_per_pai``) become ``"apcer_per_pai/<pai>"``
    keys; strings are skipped; a metric missing or None in a run is left out of that metric's n.
    Refuses (``MetricsError``) runs that differ in policy, level or percent scaling: averaging an
    oracle with an honest number gives a number that means nothing.
    """
    runs = list(results)
    if not runs:
        raise MetricsError("aggregate_seeds: no runs")
    for key in _CONVENTION_KEYS:
        values = {r.get(key) for r in runs}
        if len(values) > 1:
            raise MetricsError(f"aggregate_seeds: runs mix {key} values {sorted(map(str, values))}; never average across conventions")
    collected: dict[str, list[float]] = {}
    for run in runs:
        for key, value in _flatten_numbers(run):
            collected.setdefault(key, []).append(value)
    out = {}
    for key, values in collected.items():
        arr = np.asarray(values, dtype=np.float64)
        std = float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
        out[key] = (float(arr.mean()), std, len(arr))
    return out


def format_mean_std(mean: float, std: float, n: int, digits: int = 1) -> str:
    """'12.3 ± 1.2 (n=3)'."""
    return f"{mean:.{digits}f} ± {std:.{digits}f} (n={n})"


def format_aggregate(aggregate: Mapping[str, tuple[float, float, int]], digits: int = 1) -> dict[str, str]:
    """Every entry of ``aggregate_seeds``'s output as 'mean ± std (n=N)'."""
    return {key: format_mean_std(*value, digits=digits) for key, value in aggregate.items()}


# -- uncertainty: bootstrap over test videos (and seeds) ---------------------------------------

VERDICTS = ("better", "no clear difference", "worse")
LOWER_IS_BETTER = {"hter": True, "auc": False}
RunScores = tuple[ScoreTable, ScoreTable]  # (dev, test) of one arm in one seed


@dataclass(frozen=True)
class Interval:
    """A statistic in percent with its bootstrap percentile interval."""

    metric: str  # "hter" | "auc"
    value: float  # point estimate on the full data (mean over seeds), percent
    low: float
    high: float
    confidence: float
    n_seeds: int
    n_bona_fide: int  # test videos (or frames) per class that were resampled
    n_attack: int
    n_boot: int

    @property
    def verdict(self) -> str:
        """For a difference method − reference: "better" / "worse" only when the interval excludes 0."""
        lower_better = LOWER_IS_BETTER[self.metric]
        if self.high < 0:
            return "better" if lower_better else "worse"
        if self.low > 0:
            return "worse" if lower_better else "better"
        return "no clear difference"

    def half_width(self) -> float:
        return (self.high - self.low) / 2.0


def paired_comparison(
    method: Sequence[RunScores],
    reference: Sequence[RunScores],
    level: Level = "video",
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Interval]:
    """Δ HTER and Δ AUC (method − reference, percent points) at each arm's dev-EER threshold, with a
    paired bootstrap interval.

    ``method[i]`` and ``reference[i]`` are the (dev, test) score tables of the same seed on the same
    data. Each replicate draws seeds with replacement and, independently, test videos with
    replacement within each class (bona fide / attack counts stay fixed); the *same* draw applies to
    both arms, so what they share (hard videos, a lucky seed) cancels out of the difference. The
    thresholds stay those of the full dev split (the test-set resampling is what is measured).
    Point value = mean over seeds of the full-data difference; interval = bootstrap percentiles.
    """
    if len(method) != len(reference) or not method:
        raise MetricsError(f"paired_comparison: {len(method)} method runs vs {len(reference)} reference runs; pair them by seed")
    return _bootstrap({"method": method, "reference": reference}, level, n_boot, confidence, seed, paired=True)


def run_interval(dev: ScoreTable, test: ScoreTable, level: Level = "video", n_boot: int = 2000, confidence: float = 0.95,
                 seed: int = 0) -> dict[str, Interval]:
    """HTER and AUC of one run with a bootstrap interval over its test videos (dev-EER threshold fixed)."""
    return _bootstrap({"method": [(dev, test)]}, level, n_boot, confidence, seed, paired=False)


def _bootstrap(arms: Mapping[str, Sequence[RunScores]], level: str, n_boot: int, confidence: float, seed: int,
               paired: bool) -> dict[str, Interval]:
    prepared = {arm: [_video_scores(dev, test, level) for dev, test in runs] for arm, runs in arms.items()}
    first = next(iter(prepared.values()))[0]
    label = first[1]
    for runs in prepared.values():
        for _, lab, vid, _ in runs:
            if not (np.array_equal(lab, label) and np.array_equal(vid, first[2])):
                raise MetricsError("paired bootstrap: runs differ in their test videos; compare arms and seeds on the same test split")
    bona_fide, attack = np.flatnonzero(label == BONA_FIDE), np.flatnonzero(label == ATTACK)
    n_seeds = len(next(iter(prepared.values())))
    w_bf, w_at, seed_pick = _resampling(seed, len(bona_fide), len(attack), n_boot, n_seeds)

    def statistics(runs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Full-data (hter, auc) per seed and bootstrap [n_boot, seeds] arrays, in percent."""
        full, boot_h, boot_a = [], [], []
        for score, _, _, threshold in runs:
            accepted = score >= threshold
            boot_h.append(50.0 * (w_bf @ (~accepted[bona_fide]) / len(bona_fide) + w_at @ accepted[attack] / len(attack)))
            boot_a.append(_weighted_auc(score[bona_fide], score[attack], w_bf, w_at))
            auc = _weighted_auc(score[bona_fide], score[attack], np.ones((1, len(bona_fide))), np.ones((1, len(attack))))[0]
            full.append((50.0 * ((~accepted[bona_fide]).mean() + accepted[attack].mean()), auc))
        return np.array(full), np.stack(boot_h, 1), np.stack(boot_a, 1)

    stats = {arm: statistics(runs) for arm, runs in prepared.items()}
    full, boot_h, boot_a = stats["method"]
    if paired:
        ref_full, ref_h, ref_a = stats["reference"]
        full, boot_h, boot_a = full - ref_full, boot_h - ref_h, boot_a - ref_a
    rows = np.arange(n_boot)[:, None]
    tail = 100.0 * (1.0 - confidence) / 2.0
    out = {}
    for k, (metric, boot) in enumerate((("hter", boot_h), ("auc", boot_a))):
        replicate = boot[rows, seed_pick].mean(axis=1)
        low, high = np.percentile(replicate, [tail, 100.0 - tail])
        out[metric] = Interval(metric, float(full[:, k].mean()), float(low), float(high), confidence, n_seeds,
                               len(bona_fide), len(attack), n_boot)
    return out


@lru_cache(maxsize=2)
def _resampling(seed: int, n_bona_fide: int, n_attack: int, n_boot: int, n_seeds: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bootstrap's draws: per replicate, how often each bona fide and each attack video is drawn,
    and which seeds. A function of its arguments alone, so one write-back (a note's comparisons and
    its result notes' intervals, all on one test split) draws them once; read-only, as they are shared."""
    rng = np.random.default_rng(seed)
    w_bf = rng.multinomial(n_bona_fide, np.full(n_bona_fide, 1.0 / n_bona_fide), size=n_boot).astype(np.float64)
    w_at = rng.multinomial(n_attack, np.full(n_attack, 1.0 / n_attack), size=n_boot).astype(np.float64)
    seed_pick = rng.integers(0, n_seeds, size=(n_boot, n_seeds))
    for array in (w_bf, w_at, seed_pick):
        array.flags.writeable = False
    return w_bf, w_at, seed_pick


def _weighted_auc(s_bf: np.ndarray, s_at: np.ndarray, w_bf: np.ndarray, w_at: np.ndarray) -> np.ndarray:
    """AUC in percent for each row of the weights (resampling counts), in O(rows × videos).

    Mann–Whitney with weights: Σ_i w_i [Σ_j w_j (1[s_i > s_j] + ½·1[s_i = s_j])] / (Σ w_i · Σ w_j), the
    inner sum read off a cumulative sum of the attack weights in score order, at the attacks below
    each bona fide score and at those tied with it. The weights are counts, so every sum is an integer
    or half-integer, exact in float64 in any order of summation.
    """
    order = np.argsort(s_at, kind="stable")
    ranked = s_at[order]
    below = np.searchsorted(ranked, s_bf, side="left")  # attacks scoring strictly lower
    at_or_below = np.searchsorted(ranked, s_bf, side="right")
    cumulative = np.zeros((w_at.shape[0], len(s_at) + 1))
    np.cumsum(w_at[:, order], axis=1, out=cumulative[:, 1:])
    wins = cumulative[:, below] + 0.5 * (cumulative[:, at_or_below] - cumulative[:, below])  # [rows, bona fide]
    return 100.0 * (w_bf * wins).sum(axis=1) / (w_bf.sum(axis=1) * w_at.sum(axis=1))


def _video_scores(dev: ScoreTable, test: ScoreTable, level: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(test score, test label, test video, dev-EER threshold) at ``level``."""
    if level == "video":
        dev, test = video_level(dev), video_level(test)
    _require_both_classes(dev)
    _require_both_classes(test)
    return test.score, test.label, test.video, eer_threshold(dev.score, dev.label, "dev")[1]


# -- validation -------------------------------------------------------------------------------


def _flatten_numbers(run: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, float]]:
    for key, value in run.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten_numbers(value, prefix=f"{name}/")
        elif isinstance(value, (bool, np.bool_)) or value is None or isinstance(value, str):
            continue
        elif isinstance(value, (int, float, np.integer, np.floating)):
            yield name, float(value)


def _check_scores(score: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(score)
    if bad.any():
        raise MetricsError(f"{name}: {int(bad.sum())} of {len(score)} scores are NaN or infinite (first at row {int(np.argmax(bad))})")


def _check_labels(label: np.ndarray, name: str) -> np.ndarray:
    try:
        as_int = label.astype(np.int64)
    except (TypeError, ValueError) as exc:
        raise MetricsError(f"{name}: labels must be 0 (attack) or 1 (bona fide)") from exc
    if not np.isin(as_int, (ATTACK, BONA_FIDE)).all() or not np.array_equal(as_int, label):
        raise MetricsError(f"{name}: labels must be 0 (attack) or 1 (bona fide), got {sorted(set(label.tolist()))[:5]}")
    return as_int


def _check_pai(label: np.ndarray, pai: np.ndarray, name: str) -> None:
    if (pai[label == BONA_FIDE] != "").any():
        raise MetricsError(f"{name}: bona fide rows must have pai '' (found {sorted(set(pai[label == BONA_FIDE].tolist()) - {''})[:3]})")
    if (pai[label == ATTACK] == "").any():
        raise MetricsError(f"{name}: every attack row needs a pai species (found attacks with pai '')")


def _check_binary(score: Sequence[float], label: Sequence[int], name: str) -> tuple[np.ndarray, np.ndarray]:
    table = ScoreTable(score=score, label=label, name=name)
    _require_both_classes(table)
    return table.score, table.label


def _require_both_classes(table: ScoreTable) -> None:
    name = table.name
    if table.n_attack == 0:
        raise MetricsError(f"{name}: no attack presentations; APCER, EER and AUC are undefined")
    if table.n_bona_fide == 0:
        raise MetricsError(f"{name}: no bona fide presentations; BPCER, EER and AUC are undefined")
