"""One result note per run: numeric properties for Bases/Dataview, a body with tables and plots.

The note is rendered from ``templates/result_note.md.j2``; its body lives in a managed region so a
re-render after a re-run keeps whatever the user wrote around it.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from vaultlab.resources import templates_dir
from vaultlab.runner import RunOutcome, score_table

# Result-note properties: numbers in percent, so Bases can sort and average them.
METRIC_PROPERTIES = ("hter", "auc", "acer", "apcer", "bpcer", "eer")
MAIN_POLICY = "dev-eer"


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
    if "baseline" in outcome.metrics:
        base = outcome.metrics["baseline"][MAIN_POLICY]
        props.update({f"baseline_{k}": base[k] for k in ("hter", "auc")})
    status = (outcome.run.read_json("status.json") or {})
    props.update({"status": status.get("state", "done"), "duration_s": round(outcome.seconds, 1),
                  "device": status.get("device", ""), "run_id": outcome.run.run_id,
                  "date": str(status.get("ended", ""))[:19], "tags": ["vaultlab/result"]})
    return props


def write_plots(outcome: RunOutcome, vault_root: Path, attachment_folder: str) -> dict[str, str]:
    """ROC, DET, score histograms and training curves as PNGs in the attachment folder."""
    from vaultlab.report import plots

    rows = outcome.run.read_scores()
    folder = vault_root / attachment_folder if attachment_folder else vault_root
    folder.mkdir(parents=True, exist_ok=True)
    arms = sorted({r["arm"] for r in rows}, key=lambda a: (a != "method", a))

    tests = {arm: score_table(rows, arm, "test") for arm in arms}
    curves = {arm: (t.score, t.label) for arm, t in tests.items()}
    names = plot_names(outcome.run.run_id)
    plots.plot_roc(curves, folder / names["roc"])
    plots.plot_det(curves, folder / names["det"])
    threshold = outcome.metrics["method"][MAIN_POLICY]["threshold"]
    plots.plot_score_histograms(score_table(rows, "method", "dev"), tests["method"], threshold, folder / names["hist"])
    plots.plot_training_curves(outcome.history, folder / names["curves"])
    return plot_relpaths(outcome.run.run_id, attachment_folder)


def plot_names(run_id: str) -> dict[str, str]:
    return {kind: f"{run_id}-{kind}.png" for kind in ("roc", "det", "hist", "curves")}


def plot_relpaths(run_id: str, attachment_folder: str) -> dict[str, str]:
    """Vault-relative paths of a run's plots (what ``write_plots`` writes and the note embeds)."""
    prefix = f"{attachment_folder.strip('/')}/" if attachment_folder.strip("/") else ""
    return {kind: prefix + name for kind, name in plot_names(run_id).items()}


def render_result_body(outcome: RunOutcome, paper_link: str, plots: dict[str, str], vault_root: Path) -> str:
    plan = outcome.plan
    metric_rows = []
    for arm in sorted(outcome.metrics, key=lambda a: (a != "method", a != "baseline", a)):
        for policy in ("dev-eer", "test-eer"):
            m = outcome.metrics[arm][policy]
            label = "dev-EER" if policy == "dev-eer" else "oracle (test-EER)"
            metric_rows.append({"arm": arm, "policy": label, **{k: _fmt(m[k]) for k in
                                ("hter", "acer", "apcer", "bpcer", "eer", "auc", "tpr_at_fpr_1pct", "bpcer_at_apcer_5pct")}})
    main = outcome.metrics["method"][MAIN_POLICY]
    pais = sorted(main["apcer_per_pai"])
    pai_rows = [{"arm": arm, "values": [_fmt(outcome.metrics[arm][MAIN_POLICY]["apcer_per_pai"].get(p, float("nan"))) for p in pais]}
                for arm in sorted(outcome.metrics, key=lambda a: (a != "method", a))]
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
        assumptions=plan.assumptions, protocol=plan.protocol, protocol_description=result.get("splits_description", ""),
        splits=result.get("splits", ""), config_yaml=yaml.safe_dump(config, sort_keys=True, allow_unicode=True),
        environment=env_view, command=reproduce_command(outcome, vault_root), run_dir=f".vaultlab/runs/{outcome.run.run_id}")


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
