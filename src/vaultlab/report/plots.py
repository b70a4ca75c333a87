"""Figures for result notes: ROC, DET, score histograms, training curves.

Every function draws one small figure with the Agg canvas (no pyplot, no global backend switch),
writes one PNG atomically (temporary file + rename, so a note never links a half-written image)
and returns its path. Output is deterministic given the inputs: no timestamp or software version
in the PNG metadata, a fixed ``svg.hashsalt``, fixed colours.

Conventions follow ``vaultlab.metrics``: score = probability of bona fide, label 1 = bona fide,
accepted when score >= threshold; APCER on the curves is pooled over all attacks.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Mapping, Sequence

import matplotlib
import matplotlib.colors
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from vaultlab.metrics import det_points, eer_threshold, roc_points

DPI = 110
SIZE = (5.0, 4.0)
_RC = {"svg.hashsalt": "vaultlab", "font.size": 9, "axes.titlesize": 10, "legend.fontsize": 8}
_BONA_FIDE_COLOUR = "#2a9d3f"
_DET_TICKS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4)
_DET_LIMITS = (0.0005, 0.6)
_HISTORY_META = {"epoch", "step", "seconds", "img_per_s"}

Curves = Mapping[str, tuple[Sequence[float], Sequence[int]]]


@matplotlib.rc_context(_RC)
def plot_roc(curves: Curves, path: str | Path, title: str = "ROC (test)") -> Path:
    """ROC per named curve: pooled APCER (x) against 1 − BPCER (y), legend with AUC and EER."""
    fig, ax = _figure()
    for colour, (name, (score, label)) in zip(_colours(len(curves)), curves.items()):
        fpr, tpr, _ = roc_points(score, label, name)
        auc = float(roc_auc_score(label, score))
        eer, _ = eer_threshold(score, label, name)
        ax.plot(fpr, tpr, color=colour, lw=1.5, label=f"{name}  AUC {100 * auc:.1f}  EER {100 * eer:.1f}")
    ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls=":")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="APCER (attacks accepted, pooled)", ylabel="1 − BPCER (bona fide accepted)", title=title)
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    return _save(fig, path)


@matplotlib.rc_context(_RC)
def plot_det(curves: Curves, path: str | Path, title: str = "DET (test)") -> Path:
    """DET per named curve: pooled APCER (x) against BPCER (y) on normal-deviate axes (Φ⁻¹).

    Rates of 0 or 1 are clipped just inside the drawn range so that they stay visible at its edge.
    """
    fig, ax = _figure()
    lo, hi = _DET_LIMITS

    def deviate(p: np.ndarray) -> np.ndarray:
        return norm.ppf(np.clip(p, lo / 2, 1 - lo / 2))

    for colour, (name, (score, label)) in zip(_colours(len(curves)), curves.items()):
        apcer, bpcer, _ = det_points(score, label, name)
        eer, _ = eer_threshold(score, label, name)
        ax.plot(deviate(apcer), deviate(bpcer), color=colour, lw=1.5, label=f"{name}  EER {100 * eer:.1f}")
        ax.plot(deviate(np.array([eer])), deviate(np.array([eer])), "o", color=colour, ms=4)
    ticks = norm.ppf(_DET_TICKS)
    labels = [f"{100 * t:g}" for t in _DET_TICKS]
    ax.plot(norm.ppf(_DET_LIMITS), norm.ppf(_DET_LIMITS), color="0.7", lw=0.8, ls=":")
    ax.set_xticks(ticks, labels)
    ax.set_yticks(ticks, labels)
    ax.set(xlim=norm.ppf(_DET_LIMITS), ylim=norm.ppf(_DET_LIMITS), xlabel="APCER, pooled (%)", ylabel="BPCER (%)", title=title)
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    return _save(fig, path)


@matplotlib.rc_context(_RC)
def plot_score_histograms(
    dev: Any | None, test: Any, threshold: float, path: str | Path, log_density: bool = False, bins: int = 30,
    level: str | None = None,
) -> Path:
    """Score densities of bona fide and of each PAI species, one panel per split, threshold as a line.

    ``dev`` / ``test``: a ``metrics.ScoreTable`` or a mapping with ``score``, ``label`` and optionally
    ``pai`` arrays; ``dev`` may be None (one panel). Bins are shared by both panels. ``level``
    ("frame" / "video"), when given, is named in the panel titles and counts.
    """
    splits = [(name, _columns(t)) for name, t in (("dev", dev), ("test", test)) if t is not None]
    all_scores = np.concatenate([cols[0] for _, cols in splits])
    edges = np.linspace(min(0.0, float(all_scores.min())), max(1.0, float(all_scores.max())), bins + 1)
    pais = sorted({p for _, (_, label, pai) in splits for p in pai[label == 0].tolist()})
    colours = dict(zip(pais, _colours(len(pais), skip_green=True)))
    fig = Figure(figsize=(4.5 * len(splits), 3.8), dpi=DPI)
    axes = fig.subplots(1, len(splits), squeeze=False, sharey=True)[0]
    for ax, (name, (score, label, pai)) in zip(axes, splits):
        groups = [("bona fide", score[label == 1], _BONA_FIDE_COLOUR)]
        groups += [(p, score[(label == 0) & (pai == p)], colours[p]) for p in pais]
        for group, values, colour in groups:
            if len(values) == 0:
                continue
            filled = group == "bona fide"
            ax.hist(values, bins=edges, density=True, histtype="stepfilled" if filled else "step", color=colour,
                    alpha=0.35 if filled else 1.0, lw=1.4, label=f"{group} (n={len(values)}{' ' + level + 's' if level else ''})",
                    log=log_density)
        ax.axvline(threshold, color="k", ls="--", lw=1, label=f"threshold {threshold:.3f}")
        ax.set(xlabel="score (probability of bona fide)", title=f"{name} ({level} level)" if level else name)
        ax.legend(loc="best", framealpha=0.8)
    axes[0].set_ylabel("density (log)" if log_density else "density")
    return _save(fig, path)


@matplotlib.rc_context(_RC)
def plot_training_curves(history: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Mapping[str, Any]]], path: str | Path) -> Path:
    """Every logged loss against the epoch.

    ``history``: the engine's per-epoch dicts (``epoch``, ``step``, ``seconds``, ``img_per_s`` and one
    key per named loss), either one list or ``{stage: list}`` (lines then read "stage/loss"). A log
    y-axis when every value is positive (losses of different scale stay readable).
    """
    stages = {"": list(history)} if not isinstance(history, Mapping) else {k: list(v) for k, v in history.items()}
    fig, ax = _figure()
    series = []
    for stage, entries in stages.items():
        keys = sorted({k for e in entries for k in e if k not in _HISTORY_META})
        for key in keys:
            points = [(e.get("epoch", i + 1), e[key]) for i, e in enumerate(entries) if isinstance(e.get(key), (int, float))]
            if points:
                series.append((f"{stage}/{key}" if stage else key, *map(np.asarray, zip(*points))))
    for colour, (name, x, y) in zip(_colours(len(series)), series):
        ax.plot(x, y, marker="o", ms=3, lw=1.3, color=colour, label=name, ls="-" if name.endswith("loss") else "--")
    if not series:
        ax.text(0.5, 0.5, "no training history", ha="center", va="center", transform=ax.transAxes)
    elif all((y > 0).all() for _, _, y in series):
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="epoch", ylabel="loss (mean per epoch)", title="training")
    if series:
        ax.legend(loc="best", ncol=2 if len(series) > 6 else 1)
    ax.grid(alpha=0.3)
    return _save(fig, path)


# -- helpers ----------------------------------------------------------------------------------


def _figure(size: tuple[float, float] = SIZE) -> tuple[Figure, Any]:
    fig = Figure(figsize=size, dpi=DPI)
    return fig, fig.subplots()


def _colours(n: int, skip_green: bool = False) -> list[str]:
    """The tab10 colours in order; ``skip_green`` keeps green for bona fide (attacks start at orange)."""
    cycle = [matplotlib.colors.to_hex(c) for c in matplotlib.colormaps["tab10"].colors]
    if skip_green:
        cycle = cycle[1:2] + cycle[3:] + cycle[:1]
    return [cycle[i % len(cycle)] for i in range(n)]


def _columns(table: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(score, label, pai) from a ScoreTable or a mapping; missing pai → 'attack' for attacks."""
    get = table.get if isinstance(table, Mapping) else lambda k: getattr(table, k, None)
    score = np.asarray(get("score"), dtype=np.float64)
    label = np.asarray(get("label")).astype(np.int64)
    pai = get("pai")
    pai = np.where(label == 1, "", "attack") if pai is None else np.asarray(pai).astype(str)
    if not (len(score) == len(label) == len(pai)) or len(score) == 0:
        raise ValueError(f"score histograms need equal, non-empty score/label/pai columns, got {len(score)}/{len(label)}/{len(pai)}")
    return score, label, pai


def _save(fig: Figure, path: str | Path) -> Path:
    """Write the PNG next to its final place, then rename: atomic on one filesystem."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    FigureCanvasAgg(fig)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fig.savefig(fh, format="png", dpi=DPI, metadata={"Software": None})
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the note's reader needs to see it
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
