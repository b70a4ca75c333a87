"""One result note per run: numeric properties for Bases/Dataview, a body with tables and plots.

The note is rendered from ``templates/result_note.md.j2``; its body lives in a managed region so a
re-render after a re-run keeps whatever the user wrote around it.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from vaultlab.report.result_rows import METRICS, arm_order, delta_text, mean_std_text, outcome_key, remember, summarise
from vaultlab.resources import templates_dir
from vaultlab.runner import RunOutcome, score_table
from vaultlab.runs import shown_path

# Result-note properties: numbers in percent, so Bases can sort and average them.
METRIC_PROPERTIES = ("hter", "auc", "acer", "apcer", "bpcer", "eer")
MAIN_POLICY = "dev-eer"

# Quoted when the card has no `thread_sensitivity:` (what `benchmarks/recipes.py --thread-check` measured).
THREAD_SENSITIVITY_UNMEASURED = "not measured for this method (run `benchmarks/recipes.py --thread-check`)"


def result_note_relpath(output_folder: str, run_id: str) -> str:
    return f"{output_folder}/results/{run_id}.md"


def dataset_label(dataset: str, protocol: str, variant: str | None) -> str:
    name = "SynthFAS" if dataset == "synthfas" else dataset
    return f"{name} {protocol}" + (f" ({variant})" if variant else "")


def result_properties(outcome: RunOutcome, paper_link: str) -> dict[str, Any]:
    plan = outcome.plan
    main = outcome.metrics["method"][MAIN_POLICY]
    props: dict[str, Any] = {
        "experiment": plan.experiment_id,
        "paper": paper_link,
        "recipe": plan.recipe,
        "variant": plan.variant or "",
        "backbone": str(plan.components.get("backbone", "")),
        "dataset": "SynthFAS" if plan.dataset == "synthfas" else plan.dataset,
        "protocol": plan.protocol,
        "profile": plan.profile,
        "seed": outcome.seed,
        "threshold_policy": MAIN_POLICY,
        "level": main["level"],
    }
    props.update({k: main[k] for k in METRIC_PROPERTIES})
    for arm in arm_order(outcome.metrics)[1:]:  # every other arm (baseline, 003's teacher): none hidden
        props.update({f"{arm}_{k}": outcome.metrics[arm][MAIN_POLICY][k] for k in ("hter", "auc")})
    status = (outcome.run.read_json("status.json") or {})
    props.update({"status": status.get("state", "done"), "duration_s": round(outcome.seconds, 1),
                  "device": status.get("device", ""), "run_id": outcome.run.run_id,
                  "date": str(status.get("ended", ""))[:19], "tags": ["vaultlab/result"]})
    return props


def write_plots(outcome: RunOutcome, vault_root: Path, attachment_folder: str) -> dict[str, str]:
    """ROC, DET, score histograms and training curves as PNGs in the attachment folder.

    Curves and histograms use the scores at the level the metrics table reports (video by default),
    and say so in their titles, so a legend's AUC / EER is the table's.
    """
    from vaultlab.report import plots

    rows = outcome.run.read_scores()
    folder = vault_root / attachment_folder if attachment_folder else vault_root
    folder.mkdir(parents=True, exist_ok=True)
    rid = outcome.run.run_id
    level = outcome.metrics["method"][MAIN_POLICY]["level"]
    tests = level_tables(rows, "test", level)
    curves = {arm: (t.score, t.label) for arm, t in tests.items()}
    names = plot_names(rid)
    plots.plot_roc(curves, folder / names["roc"], title=f"ROC (test, {level} level)")
    plots.plot_det(curves, folder / names["det"], title=f"DET (test, {level} level)")
    threshold = outcome.metrics["method"][MAIN_POLICY]["threshold"]
    plots.plot_score_histograms(level_tables(rows, "dev", level)["method"], tests["method"], threshold, folder / names["hist"],
                                level=level)
    plots.plot_training_curves(outcome.history, folder / names["curves"])
    return plot_relpaths(outcome.run.run_id, attachment_folder)


def plot_names(run_id: str) -> dict[str, str]:
    return {kind: f"{run_id}-{kind}.png" for kind in ("roc", "det", "hist", "curves")}


def plot_relpaths(run_id: str, attachment_folder: str) -> dict[str, str]:
    """Vault-relative paths of a run's plots (what ``write_plots`` writes and the note embeds)."""
    prefix = f"{attachment_folder.strip('/')}/" if attachment_folder.strip("/") else ""
    return {kind: prefix + name for kind, name in plot_names(run_id).items()}


def level_tables(rows: list[dict[str, str]], split: str, level: str) -> dict:
    """{arm: ScoreTable} of one split at ``level`` ("video": mean frame score per video), method first."""
    from vaultlab.metrics import video_level

    arms = arm_order({r["arm"] for r in rows})
    tables = {arm: score_table(rows, arm, split) for arm in arms}
    return {arm: video_level(t) if level == "video" else t for arm, t in tables.items()}


def seed_table(outcome: RunOutcome, seed_outcomes: Sequence[RunOutcome] | None) -> dict[str, Any]:
    """The per-seed table of this run's plan (every seed, every arm), mean ± std and the paired Δs."""
    summary = summarise(list(seed_outcomes) if seed_outcomes else [outcome])
    rows = []
    for i, seed in enumerate(summary.seeds):
        run_id = summary.per_seed["method"][i]["run_id"]
        link = f"[[{run_id}\\|seed {seed}]]" if run_id != outcome.run.run_id else f"**seed {seed}** (this note)"
        rows.append({"seed": link, "values": [_fmt(summary.per_seed[arm][i][m]) for arm in summary.arms for m, _ in METRICS]})
    means = [mean_std_text(summary.aggregate[arm][m]) for arm in summary.arms for m, _ in METRICS]
    comparisons = [{"arm": arm, **{m: delta_text(iv) for m, iv in deltas.items()}} for arm, deltas in summary.comparisons.items()]
    return {"arms": summary.arms, "rows": rows, "means": means, "comparisons": comparisons, "how": summary.note}


def threshold_warnings(metrics: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """Arms whose threshold accepts (or rejects) every test presentation: their HTER says the threshold
    data does not transfer to the test data, not how well the scores separate (read AUC / EER)."""
    out = []
    for arm in arm_order(metrics):
        m = metrics[arm][MAIN_POLICY]
        if m["far"] >= 100.0 and m["frr"] <= 0.0:
            out.append(f"{arm}: its threshold accepts every test presentation (HTER 50 by construction)")
        elif m["far"] <= 0.0 and m["frr"] >= 100.0:
            out.append(f"{arm}: its threshold rejects every test presentation (HTER 50 by construction)")
    return out


def render_result_body(outcome: RunOutcome, paper_link: str, plots: dict[str, str], vault_root: Path,
                       seed_outcomes: Sequence[RunOutcome] | None = None, vault_dir: Path | None = None,
                       thread_sensitivity: str = "") -> str:
    """The note's body. ``seed_outcomes``: every seed of this run's plan (for the per-seed table).
    ``vault_root`` is how the reproduce command names the vault; ``vault_dir`` is where the vault is,
    so the run directory shows relative to it (a ``runs_dir:`` outside the vault shows absolute).
    ``thread_sensitivity``: the card's measured 1-vs-2-thread movement of one seed."""
    plan = outcome.plan
    metric_rows = []
    for arm in arm_order(outcome.metrics):
        for policy in ("dev-eer", "test-eer"):
            m = outcome.metrics[arm][policy]
            label = "dev-EER" if policy == "dev-eer" else "oracle (test-EER)"
            metric_rows.append({"arm": arm, "policy": label, **{k: _fmt(m[k]) for k in
                                ("hter", "acer", "apcer", "bpcer", "eer", "auc", "tpr_at_fpr_1pct", "bpcer_at_apcer_5pct")}})
    main = outcome.metrics["method"][MAIN_POLICY]
    pais = sorted(main["apcer_per_pai"])
    pai_rows = [{"arm": arm, "values": [_fmt(outcome.metrics[arm][MAIN_POLICY]["apcer_per_pai"].get(p, float("nan"))) for p in pais]}
                for arm in arm_order(outcome.metrics)]
    interval = _hter_interval(outcome, main["level"])
    result = outcome.run.read_json("result.json", {})
    environment = outcome.run.read_json("environment.json", {}) or {}
    env_view = {k: environment[k] for k in ("device", "gpu", "torch", "python", "platform", "threads", "vaultlab", "vaultlab_commit", "vault_commit") if environment.get(k) is not None}
    config = {"components": plan.components, "hyperparameters": plan.hp, "sources": plan.sources}
    env = Environment(loader=FileSystemLoader(str(templates_dir())), undefined=StrictUndefined, keep_trailing_newline=True,
                      trim_blocks=False, lstrip_blocks=False)
    return env.get_template("result_note.md.j2").render(
        title=f"{plan.experiment_id} — {dataset_label(plan.dataset, plan.protocol, plan.variant)} — seed {outcome.seed}",
        experiment_id=plan.experiment_id, dataset_label=dataset_label(plan.dataset, plan.protocol, plan.variant),
        seed=outcome.seed, profile=plan.profile, paper_link=paper_link, recipe=plan.recipe, variant=plan.variant,
        device=environment.get("device", "?"), seconds=outcome.seconds, level=main["level"], metric_rows=metric_rows,
        arms=outcome.arms, pais=pais, pai_rows=pai_rows, n_bona_fide=main["n_bona_fide"], n_attack=main["n_attack"],
        threshold=f"{main['threshold']:.4f}", dev_eer=_fmt(main["threshold_split_eer"]), plots=plots, notes=outcome.notes,
        threshold_data=result.get("threshold_data", "the protocol's dev split"), hter_interval=interval,
        threshold_warnings=threshold_warnings(outcome.metrics),
        seeds=seed_table(outcome, seed_outcomes), threads=environment.get("threads", "?"),
        thread_sensitivity=thread_sensitivity or THREAD_SENSITIVITY_UNMEASURED,
        assumptions=plan.assumptions, protocol=plan.protocol, protocol_description=result.get("splits_description", ""),
        splits=result.get("splits", ""), config_yaml=yaml.safe_dump(config, sort_keys=True, allow_unicode=True),
        environment=env_view, command=reproduce_command(outcome, vault_root), run_dir=shown_path(vault_dir or vault_root, outcome.run.path))


_INTERVALS: dict[tuple[str, str], Any] = {}  # (outcome_key, level) → the method's HTER interval
_INTERVALS_SIZE = 4096  # finished runs: one entry each (a few hundred bytes)


def _hter_interval(outcome: RunOutcome, level: str):
    """The method's test HTER with its bootstrap interval over test videos; once per write-back (a
    collect renders every result note twice: for the writes, then for the sync after them)."""
    from vaultlab.metrics import run_interval

    key = (outcome_key(outcome), level)
    if key not in _INTERVALS:
        rows = outcome.run.read_scores()
        dev, test = (level_tables(rows, split, "frame")["method"] for split in ("dev", "test"))
        remember(_INTERVALS, key, run_interval(dev, test, level=level)["hter"], _INTERVALS_SIZE)
    return _INTERVALS[key]


def reproduce_command(outcome: RunOutcome, vault_root: Path) -> str:
    plan = outcome.plan
    parts = ["vaultlab", "run", plan.experiment_id, "--vault", str(vault_root), "--protocol", plan.protocol,
             "--profile", plan.profile, "--seeds", str(outcome.seed)]
    if plan.variant:
        parts += ["--variant", plan.variant]
    if plan.dataset != "synthfas":
        parts += ["--dataset", plan.dataset]
    for key, source in sorted(plan.sources.items()):
        if source == "cli" and key in plan.hp:
            parts += ["--set", f"{key}={plan.hp[key]}"]
    return shlex.join(parts)


def _fmt(value: float) -> str:
    return "–" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.2f}"
