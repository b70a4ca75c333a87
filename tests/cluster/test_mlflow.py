"""--mlflow: a finished run copied into a local MLflow file store; the two point at each other."""

from __future__ import annotations

import json

import pytest

from tests.cluster.sweep_fixtures import make_vault
from vaultlab.sweep import build_grid
from vaultlab.workspace import open_workspace

mlflow = pytest.importorskip("mlflow", reason="MLflow is optional: pip install 'vaultlab[mlflow]'")


def test_a_finished_run_is_logged_once_with_params_epochs_metrics_and_plots(tmp_path):
    from mlflow.tracking import MlflowClient

    from vaultlab.executors.worker import run_job, write_job
    from vaultlab.tracking import log_runs, tracking_uri

    vault = make_vault(tmp_path)
    ws = open_workspace(vault)
    [point] = build_grid(ws, ["003_distillation"], protocols=None, variants=None, seeds="0", sets=["teacher_epochs=1"],
                         profile="quick", dataset="synthfas", device="cpu", pretrained=None)
    assert run_job(write_job(point.run, point.plan, point.seed, vault)) == "done"
    uri = tracking_uri("local", vault)
    [rid] = log_runs([point], uri)
    assert log_runs([point], uri) == []  # already logged to this store
    assert json.loads((point.run.path / "mlflow.json").read_text())["run_id"] == rid
    logged = MlflowClient(uri).get_run(rid)
    assert logged.data.tags["vaultlab.run_id"] == point.run_id
    assert logged.data.params["seed"] == "0" and logged.data.params["hp/teacher_epochs"] == "1"
    metrics = json.loads((point.run.path / "metrics.json").read_text())
    assert logged.data.metrics["method/dev-eer/hter"] == pytest.approx(metrics["method"]["dev-eer"]["hter"])
    history = MlflowClient(uri).get_metric_history(rid, "teacher/loss")
    assert [m.step for m in history] == [1]
    plots = {f.path for f in MlflowClient(uri).list_artifacts(rid, "plots")}
    assert {"plots/" + f"{point.run_id}-{k}.png" for k in ("roc", "det", "hist", "curves")} <= plots
