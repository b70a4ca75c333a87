"""A run on a prepared real dataset, as a licence holder would do it: rows name the dataset and protocol."""

from __future__ import annotations

import re
import shutil

from tests.cli.test_cli import invoke
from tests.conftest import copy_example_vault

TINY_DEPTHSEG = """\
experiments:
  004_depthseg:
    epochs: 1
    steps_per_epoch: 3
    batch_size: 8
    input_size: 32
    depth_size: 8
"""


def test_depthseg_runs_on_prepared_oulu_protocol_1(prepared, tmp_path):
    prepared_vault, _ = prepared
    vault = tmp_path / "vault"
    copy_example_vault(vault)
    shutil.copytree(prepared_vault / ".vaultlab" / "cache" / "datasets", vault / ".vaultlab" / "cache" / "datasets")
    (vault / ".vaultlab" / "config.yaml").write_text(TINY_DEPTHSEG)

    result = invoke("run", "004", "--vault", str(vault), "--dataset", "oulu-npu", "--protocol", "oulu:P1",
                    "--variant", "pspnet", "--quiet", "--seeds", "0")
    assert result.exit_code == 0, result.output
    note = (vault / "004_053d692f67b8931a.md").read_text(encoding="utf-8")
    rows = [line for line in note.splitlines() if "[[vaultlab/results/" in line]
    assert [r.split("|")[1].strip() for r in rows] == ["oulu-npu oulu:P1 (pspnet)"] * 2
    [result_note] = (vault / "vaultlab" / "results").glob("*.md")
    body = result_note.read_text(encoding="utf-8")
    assert "dataset: oulu-npu" in body and re.search(r"ellipse", body)  # the pseudo-depth source is stated
    assert "Face crops of oulu-npu: none of the 120 is a centre fallback" in body  # and how the crops were made


def test_folded_oulu_protocol_is_planned_as_its_six_folds(prepared, tmp_path):
    prepared_vault, _ = prepared
    vault = tmp_path / "vault"
    copy_example_vault(vault)
    shutil.copytree(prepared_vault / ".vaultlab" / "cache" / "datasets", vault / ".vaultlab" / "cache" / "datasets")
    result = invoke("run", "004", "--vault", str(vault), "--dataset", "oulu-npu", "--protocol", "oulu:P3",
                    "--variant", "pspnet", "--dry-run")
    assert result.exit_code == 0, result.output
    assert all(f"oulu-p3-{k}" in result.output.replace("\n", "") for k in range(1, 7))
    result = invoke("run", "004", "--vault", str(vault), "--dataset", "oulu-npu", "--protocol", "oulu:P4",
                    "--variant", "pspnet", "--dry-run")
    assert result.exit_code == 0, result.output
    assert all(f"oulu-p4-{k}" in result.output.replace("\n", "") for k in range(1, 7))
