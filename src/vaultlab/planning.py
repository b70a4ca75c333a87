"""Planning a run: a query and the CLI's options → ``RunPlan``s, checked before anything trains.

Pure apart from reading the opened ``Workspace``; raises ``PlanError`` with a one-line message for
anything that does not fit (unknown experiment, profile, protocol, override, seed list).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vaultlab.catalog import Experiment, find_experiment, parse_overrides, resolve_note
from vaultlab.catalog.overrides import OverrideError

if TYPE_CHECKING:
    from vaultlab.workspace import Workspace


class PlanError(ValueError):
    """The run request does not fit the vault (unknown experiment, protocol, override…)."""


def plan_runs(ws: Workspace, query: str, *, protocol: str | None, profile: str, seeds: str | None, sets: list[str], device: str,
              variants: list[str] | None, dataset: str, pretrained: str | None, without: list[str] | None = None):
    from vaultlab.runner import RunPlan

    try:
        exp = find_experiment(query, ws.experiments)
    except LookupError as exc:
        raise PlanError(str(exc).strip("'\"")) from None
    note = ws.note(exp.note_relpath)
    if sets or without:  # re-resolve with the overrides so every value keeps its source (cli beats config beats card)
        try:
            resolved = resolve_note(note, ws.catalog, ws.config.raw, parse_overrides(sets), without=without)
        except OverrideError as exc:
            raise PlanError(str(exc)) from None
        resolved.id, resolved.duplicates = exp.id, exp.duplicates
        exp = resolved
    if not exp.runnable:
        raise PlanError(f"{exp.id} ({exp.note_relpath}) is not runnable: {exp.runnable_reason}")
    if profile not in exp.hparams:
        raise PlanError(f"{exp.id}: unknown profile {profile!r}; profiles: {', '.join(exp.hparams)}")
    hp = exp.hparam_values(profile)
    sources = exp.value_sources(profile)
    proto = protocol or exp.protocol.value
    if protocol:
        sources["protocol"] = "cli"
    from vaultlab.data.protocols import ProtocolError, parse_protocol

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
            _check_protocol_fits(config, proto, hp)
        except ProtocolError as exc:
            if parse_protocol(proto).name != "adapt":
                raise PlanError(str(exc)) from None
            # the key that does not fit, where it was set, and the two ways out
            raise PlanError(f"{exp.id} (card {exp.card.id}, profile {profile!r}, k={hp.get('k', 16)} from the "
                            f"{sources.get('k', 'runner default')}): {exc} on SynthFAS with {config.subjects} subjects; "
                            "lower k with --set k=N or raise synthfas_subjects") from None
        except (TypeError, ValueError) as exc:
            raise PlanError(str(exc)) from None
    return plans


def _check_protocol_fits(config, protocol: str, hp: dict) -> None:
    """Try the protocol on a skeleton of the SynthFAS data ``config`` generates, so a bad ``lodo:D9`` or a
    ``k`` larger than the target's videos fails in the plan, not after the data is generated."""
    from vaultlab.data.protocols import make_splits

    make_splits(synthfas_skeleton(config), protocol, {"k": int(hp.get("k", 16))})


def synthfas_skeleton(config):
    """One row per video of what SynthFAS ``config`` generates (same subjects, splits, domains, videos per
    class and meta), with 1×1 images: what a protocol selects, without rendering anything."""
    import numpy as np

    from vaultlab.data.sampleset import SampleSet
    from vaultlab.data.synthfas import PAIS, TEST_VIDEOS_PER_CLASS, _split_of_subjects

    split_of = _split_of_subjects(config)
    kinds = [""] * config.bona_fide_videos + [p for p in PAIS for _ in range(config.attack_videos)]
    rows = [(d, s, p) for s in range(config.subjects) for d in config.domains for p in kinds]
    n = len(rows)
    return SampleSet(images=np.zeros((n, 1, 1, 3), np.uint8), label=np.array([int(p == "") for _, _, p in rows]),
                     pai=np.array([p for _, _, p in rows]), domain=np.array([d for d, _, _ in rows]),
                     subject=np.array([f"s{s}" for _, s, _ in rows]), video=np.array([str(i) for i in range(n)]),
                     split=np.array([split_of[s] for _, s, _ in rows]),
                     meta={"name": "SynthFAS", "test_videos_per_class": TEST_VIDEOS_PER_CLASS})


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
