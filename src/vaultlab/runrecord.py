"""A finished run, read back from its directory: the typed record the write-back renders notes from.

Everything a result note, a Results row or the dashboard shows comes from the run directory
(``spec.json``, ``status.json``, ``metrics.json``, ``result.json``, ``history.json``,
``scores.csv``), never from the process that trained: a run finished on another machine, or a
result note the user deleted, renders the same. Reading does not import torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from vaultlab.runs import RunDir, RunStore


class RunRecordError(ValueError):
    """A run directory whose files cannot be read as a finished run."""


@dataclass(frozen=True)
class RunRecord:
    run: RunDir
    spec: dict[str, Any]  # spec.json: the resolved experiment (+ run_id, assumptions, sources, note)
    status: dict[str, Any]  # status.json
    metrics: dict[str, dict[str, dict[str, Any]]]  # arm → policy → metrics

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def experiment_id(self) -> str:
        return str(self.spec["experiment"])

    @property
    def note_relpath(self) -> str | None:
        """The note the run was planned from (absent in run directories older than this field)."""
        note = self.spec.get("note")
        return str(note) if note else None

    @property
    def seed(self) -> int:
        return int(self.spec["seed"])

    @property
    def protocol(self) -> str:
        return str(self.spec["protocol"])

    @property
    def protocol_group(self) -> str:
        return str(self.spec.get("protocol_group") or self.spec["protocol"])

    @property
    def variant(self) -> str | None:
        return self.spec.get("variant") or None

    @property
    def dataset(self) -> str:
        return str(self.spec.get("dataset", "synthfas"))

    @property
    def ended(self) -> str:
        """When the run finished, ISO text to the second (local time, as ``status.json`` has it)."""
        return str(self.status.get("ended", ""))[:19]

    @property
    def configuration(self) -> str:
        """What the runs of one sweep share: the spec without seed and fold (their Results rows
        aggregate over seeds and folds)."""
        shared = {k: v for k, v in self.spec.items()
                  if k not in ("seed", "protocol", "run_id", "assumptions", "sources", "note", "paper_title")}
        return json.dumps(shared, sort_keys=True, default=str)

    @cached_property
    def result(self) -> dict[str, Any]:
        return self.run.read_json("result.json", {}) or {}

    def outcome(self, note_relpath: str, paper_title: str):
        """The ``runner.RunOutcome`` the renderers take, rebuilt from this directory alone."""
        from vaultlab.runner import RunPlan, outcome_from_run

        spec = self.spec
        plan = RunPlan(experiment_id=self.experiment_id, note_relpath=note_relpath, paper_title=paper_title,
                       card_id=str(spec.get("card", "")), recipe=str(spec.get("recipe", "")), variant=self.variant,
                       components=dict(spec.get("components") or {}), hp=dict(spec.get("hp") or {}), protocol=self.protocol,
                       profile=str(spec.get("profile", "")), seeds=[self.seed], dataset=self.dataset,
                       device=str(self.status.get("device", "auto")), pretrained=spec.get("pretrained"),
                       data_options=dict(spec.get("data_options") or {}), protocol_group=self.protocol_group,
                       assumptions=list(spec.get("assumptions") or []), sources=dict(spec.get("sources") or {}))
        return outcome_from_run(plan, self.seed, self.run)


def read_record(run: RunDir) -> RunRecord | None:
    """The record of a finished (``done``) run; None for runs still going, failed or interrupted.
    Raises ``RunRecordError`` when a done run's files are missing or unreadable."""
    try:
        status = run.read_json("status.json") or {}
        if status.get("state") != "done":
            return None
        spec, metrics = run.read_json("spec.json"), run.read_json("metrics.json")
    except (OSError, ValueError) as exc:
        raise RunRecordError(f"{run.path}: cannot read: {exc}") from None
    if not isinstance(spec, dict) or not isinstance(metrics, dict) or "method" not in metrics:
        raise RunRecordError(f"{run.path}: marked done but spec.json or metrics.json is missing or has no 'method' arm")
    for key in ("experiment", "protocol", "seed"):
        if key not in spec:
            raise RunRecordError(f"{run.path}/spec.json: no {key!r}")
    return RunRecord(run, spec, status, metrics)


def finished_records(vault_root: Path) -> tuple[list[RunRecord], list[str]]:
    """Every finished run of the vault (its runs folder, sorted by run id), plus one message per
    unreadable one."""
    records, problems = [], []
    for run in RunStore(vault_root).all():
        try:
            record = read_record(run)
        except RunRecordError as exc:
            problems.append(str(exc))
            continue
        if record is not None:
            records.append(record)
    return records, problems
