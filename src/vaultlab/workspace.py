"""One opened vault: its config, parsed notes, catalog and resolved experiments — and the two jobs
that go through it: ``sync`` (notes + dashboard) and ``run`` (plan → execute → write back).

Torch is imported only inside the run path.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vaultlab.catalog import Catalog, Experiment, find_experiment, load_catalog, parse_overrides, resolve_note, resolve_vault
from vaultlab.catalog.overrides import OverrideError
from vaultlab.report.dashboard import DASHBOARD_REGION, render_dashboard, render_dashboard_region, render_runs_base
from vaultlab.runs import RunStore
from vaultlab.vault.config import VaultConfig
from vaultlab.vault.edit import replace_region, set_properties, upsert_results_rows
from vaultlab.vault.model import Diagnostic, Note
from vaultlab.vault.sync import load_notes, plan_sync
from vaultlab.vault.write import ChangeSet, WriteConflict, digest, safe_path, write_atomic



class PlanError(ValueError):
    """The run request does not fit the vault (unknown experiment, protocol, override…)."""


@dataclass
class Workspace:
    root: Path
    config: VaultConfig
    notes: list[Note]
    catalog: Catalog
    experiments: list[Experiment]
    diagnostics: list[Diagnostic]

    @property
    def output_folder(self) -> str:
        return self.config.output_folder.strip("/")

    def note(self, relpath: str) -> Note:
        return next(n for n in self.notes if n.relpath == relpath)


def open_workspace(root: Path) -> Workspace:
    config = VaultConfig.load(root)
    notes, diagnostics = load_notes(root, config)
    catalog = load_catalog(root)
    experiments = resolve_vault(notes, catalog, config.raw)
    seen: set[Diagnostic] = set()
    merged = []
    for d in [*diagnostics, *(d for n in notes for d in n.diagnostics), *catalog.diagnostics, *(d for e in experiments for d in e.diagnostics)]:
        if d not in seen:
            seen.add(d)
            merged.append(d)
    return Workspace(root, config, notes, catalog, experiments, merged)


# -- sync ------------------------------------------------------------------------------------------

@dataclass
class SyncReport:
    changed: list[str] = field(default_factory=list)
    diff: str = ""
    conflicts: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def sync_workspace(ws: Workspace, *, dry_run: bool = False, fix_text: bool = False) -> SyncReport:
    ids = {e.note_relpath: e.id for e in ws.experiments}
    changes, diagnostics = plan_sync(ws.root, ws.notes, ws.config, ids, fix_text=fix_text)
    _plan_generated(ws, changes)
    report = SyncReport(changed=changes.changed, diagnostics=diagnostics)
    if dry_run:
        report.diff = changes.diff()
        return report
    result = changes.apply()
    report.conflicts = [c.path for c in result.conflicts]
    report.diagnostics += [Diagnostic(c.path, 0, "error", "changed on disk while vaultlab was syncing; not written",
                                      "run `vaultlab sync` again") for c in result.conflicts]
    report.diagnostics += [Diagnostic(path, 0, "error", f"not written: {error}") for path, error in result.errors]
    return report


def latest_results(ws: Workspace) -> dict[str, list[dict[str, Any]]]:
    """experiment id → newest finished run per (protocol, variant), for the dashboard."""
    latest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for run in RunStore(ws.root).all():
        if run.state() != "done":
            continue
        spec, metrics, status = run.read_json("spec.json"), run.read_json("metrics.json"), run.read_json("status.json")
        if not metrics or "method" not in metrics:
            continue
        main = metrics["method"]["dev-eer"]
        entry = {"run_id": run.run_id, "protocol": spec["protocol"], "variant": spec.get("variant") or "", "seed": spec["seed"],
                 "hter": main["hter"], "auc": main["auc"], "acer": main["acer"], "date": str(status.get("ended", ""))[:19],
                 "note": f"{ws.output_folder}/results/{run.run_id}.md"}
        key = (spec["experiment"], spec["protocol"], entry["variant"])
        if key not in latest or entry["date"] > latest[key]["date"]:
            latest[key] = entry
    out: dict[str, list[dict[str, Any]]] = {}
    for (exp_id, _, _), entry in sorted(latest.items()):
        out.setdefault(exp_id, []).append(entry)
    return out


def _plan_generated(ws: Workspace, changes: ChangeSet) -> None:
    """Dashboard.md (a managed region, user text around it kept) and Runs.base (vaultlab's own file)."""
    dashboard_rel = f"{ws.output_folder}/Dashboard.md"
    views = dict(results_folder=f"{ws.output_folder}/results", runs_base=f"{ws.output_folder}/Runs.base")
    results = latest_results(ws)
    old = _read_if_exists(safe_path(ws.root, dashboard_rel))
    if old is None:
        new = render_dashboard(ws.experiments, ws.notes, results, **views)
    else:  # keep what the user wrote around vaultlab's region
        new = replace_region(old.decode("utf-8"), DASHBOARD_REGION, render_dashboard_region(ws.experiments, ws.notes, results, **views))
    changes.add(dashboard_rel, new.encode("utf-8"), old)
    base_rel = f"{ws.output_folder}/Runs.base"
    changes.add(base_rel, render_runs_base(f"{ws.output_folder}/results").encode("utf-8"), _read_if_exists(safe_path(ws.root, base_rel)))


def _read_if_exists(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


# -- run: plan -------------------------------------------------------------------------------------

def plan_runs(ws: Workspace, query: str, *, protocol: str | None, profile: str, seeds: str | None, sets: list[str], device: str,
              variants: list[str] | None, dataset: str, pretrained: str | None):
    from vaultlab.runner import RunPlan

    try:
        exp = find_experiment(query, ws.experiments)
    except LookupError as exc:
        raise PlanError(str(exc).strip("'\"")) from None
    if not exp.runnable:
        raise PlanError(f"{exp.id} ({exp.note_relpath}) is not runnable: {exp.runnable_reason}")
    if profile not in exp.hparams:
        raise PlanError(f"{exp.id}: unknown profile {profile!r}; profiles: {', '.join(exp.hparams)}")
    note = ws.note(exp.note_relpath)
    if sets:  # re-resolve with the overrides so every value keeps its source (cli beats config beats card)
        try:
            resolved = resolve_note(note, ws.catalog, ws.config.raw, parse_overrides(sets))
        except OverrideError as exc:
            raise PlanError(str(exc)) from None
        resolved.id, resolved.duplicates = exp.id, exp.duplicates
        exp = resolved
    hp = exp.hparam_values(profile)
    sources = exp.value_sources(profile)
    proto = protocol or exp.protocol.value
    if protocol:
        sources["protocol"] = "cli"
    from vaultlab.data.protocols import ProtocolError, parse_protocol

    _ensure_dataset_protocols(dataset)
    try:
        parse_protocol(proto)
    except ProtocolError as exc:
        raise PlanError(str(exc)) from None
    seed_list = _parse_seeds(seeds) if seeds else [int(s) for s in exp.card.seeds]
    chosen = exp.variants or [None]
    if variants:
        unknown = [v for v in variants if v not in exp.variants]
        if unknown:
            raise PlanError(f"{exp.id}: unknown variant(s) {', '.join(unknown)}; variants: {', '.join(exp.variants) or 'none'}")
        chosen = variants
    assumptions = [{"what": a.what, "choice": a.choice, "provenance": a.provenance} for a in exp.assumptions]
    folds = [proto]
    if dataset != "synthfas":
        from vaultlab.data.protocols_real import protocol_folds

        folds = protocol_folds(proto)
    plans = []
    for variant in chosen:
        for fold in folds:
            plans.append(RunPlan(experiment_id=exp.id, note_relpath=exp.note_relpath, paper_title=note.title, card_id=exp.card.id,
                             recipe=exp.recipe, variant=variant, components=exp.component_values(variant), hp=dict(hp),
                             protocol=fold, protocol_group=proto, profile=profile, seeds=seed_list, dataset=dataset, device=device,
                             pretrained=pretrained or _configured_pretrained(ws, exp), assumptions=assumptions, sources=sources,
                             data_options=dict(ws.config.raw.get(dataset) or {}) if dataset == "synthfas" else {}))
    if dataset == "synthfas":
        from vaultlab.runner import synthfas_config

        try:
            config = synthfas_config(plans[0])
            _check_protocol_fits(config, proto)
        except (TypeError, ValueError) as exc:
            raise PlanError(str(exc)) from None
    return plans


def _check_protocol_fits(config, protocol: str) -> None:
    """Try the protocol on a SynthFAS-shaped skeleton (one row per domain × split × class), so a bad
    ``lodo:D9`` fails in the plan, not after the data is generated."""
    import numpy as np

    from vaultlab.data.protocols import make_splits
    from vaultlab.data.sampleset import SampleSet
    from vaultlab.data.synthfas import PAIS

    rows = [(d, s, p) for d in config.domains for s in ("train", "dev", "test") for p in ("", *PAIS)]
    n = len(rows)
    skeleton = SampleSet(images=np.zeros((n, 1, 1, 3), np.uint8), label=np.array([int(p == "") for _, _, p in rows]),
                         pai=np.array([p for _, _, p in rows]), domain=np.array([d for d, _, _ in rows]),
                         subject=np.array([s for _, s, _ in rows]), video=np.array([str(i) for i in range(n)]),
                         split=np.array([s for _, s, _ in rows]), meta={"name": "SynthFAS"})
    make_splits(skeleton, protocol, {"k": 1})


def _ensure_dataset_protocols(dataset: str) -> None:
    if dataset != "synthfas":
        try:
            import vaultlab.data.protocols_real  # noqa: F401  (registers oulu:/ocim: protocols)
        except ImportError:
            pass


def _configured_pretrained(ws: Workspace, exp: Experiment) -> str | None:
    configured = getattr(ws.config, "pretrained", None) or {}
    backbone = exp.components.get("backbone")
    return configured.get(str(backbone.value)) if backbone else None


def _parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.replace(" ", "").split(",") if s]
    except ValueError:
        raise PlanError(f"--seeds {text!r}: write comma-separated integers, e.g. 0,1,2") from None
    if not seeds:
        raise PlanError("--seeds is empty")
    return seeds


def print_plan(plans, console: Console) -> None:
    first = plans[0]
    table = Table(title=escape(f"plan: {first.experiment_id} — {first.paper_title}"), title_justify="left", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("note", first.note_relpath)
    table.add_row("recipe", f"{first.recipe} (card {first.card_id})")
    table.add_row("components", ", ".join(f"{k}={v}" for k, v in first.components.items() if k != "variant"))
    table.add_row("variants", ", ".join(dict.fromkeys(p.variant for p in plans if p.variant)) or "—")
    folds = list(dict.fromkeys(p.protocol for p in plans))
    table.add_row("dataset / protocol", f"{first.dataset} / {first.protocol_group or first.protocol}"
                  + (f" ({len(folds)} folds: {', '.join(folds)})" if len(folds) > 1 else ""))
    table.add_row("profile", f"{first.profile}: " + ", ".join(f"{k}={v}" for k, v in sorted(first.hp.items())))
    table.add_row("seeds", ", ".join(map(str, first.seeds)))
    table.add_row("device", first.device)
    table.add_row("weights", first.pretrained or "none — training from scratch (nothing is downloaded)")
    table.add_row("assumptions", f"{len(first.assumptions)} (see `vaultlab show {first.experiment_id}`)")
    table.add_row("runs", ", ".join(p.run_id(s) for p in plans for s in p.seeds))
    console.print(table)


# -- run: execute + write back ------------------------------------------------------------------------

def run_and_write_back(ws: Workspace, plans, *, resume: bool, force: bool, console: Console, quiet: bool = False) -> int:
    from vaultlab.runner import execute

    t0 = time.perf_counter()
    all_outcomes = []
    for plan in plans:
        outcomes = execute(plan, ws.root, resume=resume, force=force, console=console, quiet=quiet)
        all_outcomes.append((plan, outcomes))
    written = write_back(ws, all_outcomes, console)
    fresh = open_workspace(ws.root)
    report = sync_workspace(fresh)
    print_summary(all_outcomes, console)
    console.print(f"wrote {', '.join(written + report.changed) or 'nothing'} · {time.perf_counter() - t0:.1f} s")
    return 1 if report.conflicts else 0


def print_summary(all_outcomes, console: Console) -> None:
    from vaultlab.metrics import aggregate_seeds, format_mean_std

    table = Table(title="test split, dev-EER threshold, % (mean ± std over seeds)", title_justify="left")
    for column in ("protocol", "arm", "HTER", "AUC", "ACER", "APCER", "BPCER"):
        table.add_column(column, no_wrap=column in ("protocol", "arm"))
    for plan, outcomes in all_outcomes:
        arms = sorted(outcomes[0].metrics, key=lambda a: (a != "method", a != "baseline", a))
        label = plan.protocol + (f" ({plan.variant})" if plan.variant else "")
        for arm in arms:
            agg = aggregate_seeds([o.metrics[arm]["dev-eer"] for o in outcomes])
            table.add_row(label, arm, *(_mean_std_text(agg[k], format_mean_std) for k in ("hter", "auc", "acer", "apcer", "bpcer")))
    console.print(table)


def write_back(ws: Workspace, all_outcomes, console: Console) -> list[str]:
    from vaultlab.report.result_note import dataset_label, render_result_body, result_note_relpath, result_properties, write_plots

    written: list[str] = []
    groups: dict[tuple[str, str, str], list] = {}  # (note, protocol group, variant) → outcomes of its folds × seeds
    for plan, outcomes in all_outcomes:
        paper_link = _paper_link(plan.note_relpath)
        for outcome in outcomes:
            rel = result_note_relpath(ws.output_folder, outcome.run.run_id)
            plots = write_plots(outcome, ws.root, ws.config.attachment_folder(rel))
            body = render_result_body(outcome, paper_link, plots, ws.root, outcomes)
            props = result_properties(outcome, paper_link)
            if _write_generated_note(ws, rel, props, "result", body):
                written.append(rel)
        groups.setdefault((plan.note_relpath, plan.protocol_group or plan.protocol, plan.variant or ""), []).extend(outcomes)
    rows_by_note: dict[str, list[dict[str, str]]] = {}
    for (note_rel, protocol, variant), outcomes in groups.items():
        plan = outcomes[0].plan
        rows_by_note.setdefault(note_rel, []).extend(result_rows(ws, plan, outcomes, dataset_label(plan.dataset, protocol, variant or None)))
    for note_rel, rows in rows_by_note.items():
        if _write_paper_note(ws, note_rel, rows):
            written.append(note_rel)
    return written


def result_rows(ws: Workspace, plan, outcomes, dataset: str) -> list[dict[str, str]]:
    """Results-table rows for one protocol: the method against every other arm (report.result_rows)."""
    from vaultlab.report import result_rows as rows

    return rows.result_rows(plan, outcomes, dataset, f"{ws.output_folder}/results")


def _mean_std_text(agg, formatter) -> str:
    mean, std, n = agg
    return f"{mean:.2f}" if n == 1 else formatter(mean, std, n)


def _paper_link(note_relpath: str) -> str:
    """A vault-absolute wikilink: valid whatever ``newLinkFormat`` the vault uses."""
    return f"[[{note_relpath.removesuffix('.md')}]]"


def _write_generated_note(ws: Workspace, rel: str, props: dict[str, Any], region: str, body: str) -> bool:
    path = safe_path(ws.root, rel)
    path.parent.mkdir(parents=True, exist_ok=True)
    old = _read_if_exists(path)
    text = old.decode("utf-8") if old is not None else "---\n---\n"
    text = set_properties(text, props, ws.config.types)
    text = replace_region(text, region, body)
    return write_atomic(path, text.encode("utf-8"), digest(old), root=ws.root)


def _write_paper_note(ws: Workspace, note_rel: str, rows: list[dict[str, str]]) -> bool:
    """Replace vaultlab's own rows for these datasets (never the user's rows) and set ``last_run``."""
    path = safe_path(ws.root, note_rel)
    raw = path.read_bytes()  # re-read now: the user may have edited the note while the run trained
    from vaultlab.vault.note import parse_note_bytes

    note = parse_note_bytes(raw, path, note_rel)
    if not note.usable:
        raise PlanError(f"{note_rel} no longer parses; results were kept in the run directory only")
    datasets = {r["Dataset"] for r in rows}
    prefix = f"[[{ws.output_folder}/results/"

    def owned(cells: dict[str, str]) -> bool:
        return prefix in cells.get("result", "") and cells.get("dataset", "").strip() in datasets

    text = upsert_results_rows(note.raw_text, rows, owned=owned)
    text = set_properties(text, {"last_run": datetime.now().replace(microsecond=0).isoformat()}, ws.config.types)
    data = text.encode("utf-8")
    try:
        return write_atomic(path, data, note.digest, root=ws.root)
    except WriteConflict:
        raise PlanError(f"{note_rel} changed on disk while vaultlab was writing; results are in the run directories — run again to write them") from None
