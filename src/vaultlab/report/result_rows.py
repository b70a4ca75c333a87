"""What a reader compares: every arm of a run over its seeds, and the method against each other arm.

Two consumers, one computation (``summarise``):

- the paper note's Results table (``result_rows``): per metric, the method's mean ± std (n) linked to
  its result note, beside the baseline's, with the paired Δ, its 95 % interval and a verdict; then one
  row per further arm (003's unadapted teacher), so that no arm the recipe trained is hidden;
- the result note's per-seed table (``report.result_note``).

Layout in the user's table (columns Dataset | Metric | Result | Baseline, unchanged): **Result** is
always the method (a link into ``vaultlab/results/``, which is what marks the row as vaultlab's);
**Baseline** is the arm it is compared with, named when it is not the baseline, followed by
"Δ method − arm, 95 % CI […]: verdict". A verdict other than "no clear difference" appears only when
the interval excludes 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from vaultlab.metrics import Interval, aggregate_seeds, paired_comparison
from vaultlab.runner import RunOutcome, score_table

MAIN_POLICY = "dev-eer"
METRICS = (("hter", "HTER (%)"), ("auc", "AUC (%)"))
N_BOOT = 2000


def arm_order(arms) -> list[str]:
    """method, baseline, then the other arms alphabetically."""
    return sorted(arms, key=lambda a: (a != "method", a != "baseline", a))


@dataclass
class Summary:
    arms: list[str]  # in arm_order
    seeds: list[int]
    per_seed: dict[str, list[dict[str, Any]]]  # arm → per outcome: {"seed", "run_id", "protocol", "hter", "auc"}
    aggregate: dict[str, dict[str, tuple[float, float, int]]]  # arm → metric → (mean, std, n)
    comparisons: dict[str, dict[str, Interval]]  # other arm → metric → Δ (method − arm); empty across folds
    level: str
    note: str  # how the intervals were computed, or why there are none


_CACHE: dict[tuple[str, ...], Summary] = {}
_CACHE_SIZE = 64  # experiments: a write-back renders every experiment's result notes, then every paper note's rows


def outcome_key(outcome: RunOutcome) -> str:
    """A finished run as its scores stand: a retrained run (``--force``) has a new end time."""
    return f"{outcome.run.run_id}@{(outcome.run.read_json('status.json') or {}).get('ended', '')}"


def remember(cache: dict, key: Any, value: Any, size: int = _CACHE_SIZE) -> Any:
    """Store ``value`` under ``key`` in a bounded cache of ``size`` entries (the oldest goes first)."""
    while len(cache) >= size:
        cache.pop(next(iter(cache)))
    cache[key] = value
    return value


def summarise(outcomes: Sequence[RunOutcome]) -> Summary:
    """Per-seed numbers, mean ± std and paired comparisons of one protocol's outcomes (all folds × seeds).

    Intervals need the same test videos in every run, so they are computed when every outcome is on
    one protocol (fold); across folds only mean ± std is given.
    """
    # one computation per write-back (the paper note and each seed's result note)
    key = tuple(sorted(outcome_key(o) for o in outcomes))
    if key in _CACHE:
        return _CACHE[key]
    first = outcomes[0]
    arms = arm_order(first.metrics)
    level = str(first.metrics["method"][MAIN_POLICY]["level"])
    per_seed = {arm: [{"seed": o.seed, "run_id": o.run.run_id, "protocol": o.plan.protocol,
                       **{m: o.metrics[arm][MAIN_POLICY][m] for m, _ in METRICS}} for o in outcomes] for arm in arms}
    aggregate = {arm: {m: v for m, v in aggregate_seeds([o.metrics[arm][MAIN_POLICY] for o in outcomes]).items()
                       if m in dict(METRICS)} for arm in arms}
    comparisons: dict[str, dict[str, Interval]] = {}
    if len({o.plan.protocol for o in outcomes}) == 1 and len(arms) > 1:
        tables = {arm: [] for arm in arms}
        for o in outcomes:
            rows = o.run.read_scores()
            for arm in arms:
                tables[arm].append((score_table(rows, arm, "dev"), score_table(rows, arm, "test")))
        for arm in arms[1:]:
            comparisons[arm] = paired_comparison(tables["method"], tables[arm], level=level, n_boot=N_BOOT)
        note = (f"Δ = method − arm, paired (same seeds, same data); 95 % percentile interval from {N_BOOT} bootstrap "
                f"replicates that redraw the seeds and, within each class, the test {level}s; thresholds fixed at each "
                "arm's dev-EER point")
    else:
        note = "no interval across folds (their test sets differ): compare the folds' own result notes"
    return remember(_CACHE, key, Summary(arms, [o.seed for o in outcomes], per_seed, aggregate, comparisons, level, note))


def mean_std_text(agg: tuple[float, float, int]) -> str:
    """'25.00 ± 1.20 (n=3)'; one run: '25.00 (n=1)'."""
    mean, std, n = agg
    return f"{mean:.2f} (n=1)" if n == 1 else f"{mean:.2f} ± {std:.2f} (n={n})"


def signed(value: float) -> str:
    return f"{value:+.2f}".replace("-", "−")


def delta_text(interval: Interval) -> str:
    """'Δ −2.60, 95 % CI [−5.10, −0.20]: better'."""
    return f"Δ {signed(interval.value)}, 95 % CI [{signed(interval.low)}, {signed(interval.high)}]: {interval.verdict}"


def result_rows(plan, outcomes: Sequence[RunOutcome], dataset: str, results_folder: str) -> list[dict[str, str]]:
    """Results-table rows for one protocol (all its folds and seeds): the method against every other arm."""
    summary = summarise(outcomes)
    target = f"{results_folder}/{outcomes[0].run.run_id}"
    others = summary.arms[1:]
    rows = []
    for arm in others or [None]:
        for metric, name in METRICS:
            label = f"{name}, dev-EER, {plan.profile}" + (f", vs {arm}" if arm and arm != "baseline" else "")
            result = f"[[{target}|{mean_std_text(summary.aggregate['method'][metric])}]]"
            if arm is None:
                reference = "—"
            else:
                reference = ("" if arm == "baseline" else f"{arm}: ") + mean_std_text(summary.aggregate[arm][metric])
                if arm in summary.comparisons:
                    reference += f"; {delta_text(summary.comparisons[arm][metric])}"
            rows.append({"Dataset": dataset, "Metric": label, "Result": result, "Baseline": reference})
    return rows
