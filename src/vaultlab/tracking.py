"""Optional MLflow logging of finished runs (``vaultlab sweep … --mlflow URI``; extra ``vaultlab[mlflow]``).

The vault and the run directories stay the source of truth: this copies a finished run into MLflow
after the fact, from the process that owns the vault (workers need no tracking server, and an
offline cluster works). Per run: the resolved spec as params, the per-epoch losses of every stage as
step-indexed metrics, the final metrics of every arm and threshold policy, and the ROC/DET/histogram/
curve plots. The MLflow run carries the tag ``vaultlab.run_id``; the run directory gets ``mlflow.json``
with the MLflow run id, so each points at the other, and a run already logged to a URI is not logged
twice. ``local`` (or ``default``) means a file store in ``<vault>/.vaultlab/mlruns``: no server needed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

EXPERIMENT = "vaultlab"


class TrackingError(RuntimeError):
    pass


def tracking_uri(value: str, vault_root: Path) -> str:
    if value in ("", "local", "default"):
        return (vault_root / ".vaultlab" / "mlruns").resolve().as_uri()
    if "://" not in value and ":" not in value.split("/")[0]:  # a plain folder: a file store there
        return Path(value).resolve().as_uri()
    return value


def log_runs(points, uri: str) -> list[str]:
    """Log every finished point not yet logged to ``uri``; returns the MLflow run ids created."""
    # MLflow 3 keeps the file store only on request; a local folder is what "no server" means here.
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise TrackingError("--mlflow needs MLflow: pip install 'vaultlab[mlflow]'") from None
    client = MlflowClient(uri)
    found = client.get_experiment_by_name(EXPERIMENT)
    experiment_id = found.experiment_id if found else client.create_experiment(EXPERIMENT)
    created = []
    for point in points:
        run = point.run
        logged = run.read_json("mlflow.json", {}) or {}
        if run.state() != "done" or logged.get("tracking_uri") == uri:
            continue
        created.append(_log_one(client, experiment_id, point, uri))
    return created


def _log_one(client, experiment_id: str, point, uri: str) -> str:
    from mlflow.entities import Metric, Param

    from vaultlab.report.result_note import write_plots
    from vaultlab.runner import outcome_from_run

    run = point.run
    spec = run.read_json("spec.json", {})
    tags = {"vaultlab.run_id": run.run_id, "vaultlab.run_dir": str(run.path.resolve()),
            "vaultlab.experiment": point.plan.experiment_id, "vaultlab.note": point.plan.note_relpath}
    mlrun = client.create_run(experiment_id, run_name=run.run_id, tags=tags)
    rid = mlrun.info.run_id
    params = [Param(k, str(v)[:6000]) for k, v in sorted(flatten(
        {k: v for k, v in spec.items() if k not in ("assumptions", "sources")}).items())]
    ts = int(mlrun.info.start_time)
    metrics = []
    for stage, history in (run.read_json("history.json", {}) or {}).items():
        for entry in history:
            for key, value in entry.items():
                if key not in ("epoch", "step") and isinstance(value, (int, float)):
                    metrics.append(Metric(f"{stage}/{key}", float(value), ts, int(entry.get("epoch", 0))))
    for key, value in flatten(run.read_json("metrics.json", {}) or {}).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            metrics.append(Metric(key.replace(":", "_"), float(value), ts, 0))
    for start in range(0, max(len(params), len(metrics)), 100):  # log_batch's per-call limits
        client.log_batch(rid, metrics=metrics[start:start + 100], params=params[start:start + 100])
    with tempfile.TemporaryDirectory() as tmp:
        write_plots(outcome_from_run(point.plan, point.seed, run), Path(tmp), "")
        client.log_artifacts(rid, tmp, "plots")
    for name in ("spec.json", "metrics.json", "status.json"):
        if (run.path / name).exists():
            client.log_artifact(rid, str(run.path / name), "run")
    client.set_terminated(rid)
    run.write_json("mlflow.json", {"tracking_uri": uri, "run_id": rid, "experiment_id": experiment_id})
    return rid


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}/"))
        else:
            out[name] = value
    return out
