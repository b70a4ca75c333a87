"""The one writer: a worker trains with --no-write, `collect` (and `sync`) render the notes from the
run directories alone, under the vault lock."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from vaultlab.collect import collect, vault_lock
from vaultlab.workspace import writes_disabled

from tests.cli.test_cli import TINY, digests, invoke
from tests.conftest import copy_example_vault

REPO = Path(__file__).resolve().parents[1]
NOTE = "003_2b75969d89ee11c2.md"


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A vault where a worker (--no-write) finished one real tiny run: run directory only."""
    root = tmp_path_factory.mktemp("trained") / "vault"
    copy_example_vault(root)
    (root / ".vaultlab").mkdir()
    (root / ".vaultlab" / "config.yaml").write_text(TINY)  # the CLI tests' tiny distillation
    before = digests(root)
    result = invoke("run", "003_distillation", "--vault", str(root), "--quiet", "--no-write", "--seeds", "0")
    assert result.exit_code == 0, result.output
    assert digests(root) == before, "a worker must not write notes"
    assert "vaultlab collect" in result.output
    return root


@pytest.fixture(scope="module")
def collected(trained, tmp_path_factory) -> Path:
    """The same vault after one collect (the run's notes and plots written)."""
    root = tmp_path_factory.mktemp("collected") / "vault"
    shutil.copytree(trained, root)
    assert collect(root) == 0
    return root


@pytest.fixture
def vault(collected, tmp_path) -> Path:
    root = tmp_path / "vault"
    shutil.copytree(collected, root)
    return root


def test_collect_writes_the_run_and_a_second_collect_changes_nothing(vault):
    [run_dir] = (vault / ".vaultlab" / "runs").iterdir()
    result_note = vault / "vaultlab" / "results" / f"{run_dir.name}.md"
    assert f"run_id: {run_dir.name}" in result_note.read_text(encoding="utf-8")
    assert "one seed moves by: nothing — seed 0 of note 003" in result_note.read_text(encoding="utf-8")  # the card's figure
    assert f"[[vaultlab/results/{run_dir.name}\\|" in (vault / NOTE).read_text(encoding="utf-8")
    assert run_dir.name in (vault / "vaultlab" / "Dashboard.md").read_text(encoding="utf-8")
    assert len(list((vault / "attachments").glob(f"{run_dir.name}-*.png"))) == 4
    snapshot = digests(vault)
    assert collect(vault) == 0 and digests(vault) == snapshot
    assert invoke("sync", str(vault), "--check").exit_code == 0


def test_a_deleted_result_note_comes_back_byte_identical_with_sync(vault):
    [note] = (vault / "vaultlab" / "results").glob("*.md")
    written = note.read_bytes()
    note.unlink()
    dry = invoke("sync", str(vault), "--dry-run")
    assert dry.exit_code == 0 and f"+++ b/vaultlab/results/{note.name}" in dry.output and not note.exists()
    assert invoke("sync", str(vault)).exit_code == 0
    assert note.read_bytes() == written


def test_a_run_finished_elsewhere_appears_through_a_shared_runs_dir(vault, tmp_path):
    shared = tmp_path / "cluster-scratch" / "runs"
    shutil.move(str(vault / ".vaultlab" / "runs"), shared)
    shutil.rmtree(vault / "vaultlab" / "results")
    assert collect(vault) == 0
    assert not (vault / "vaultlab" / "results").exists()  # the default runs folder is empty now
    config = vault / ".vaultlab" / "config.yaml"
    config.write_text(config.read_text() + f"runs_dir: {shared}\n")
    assert collect(vault) == 0
    [run_dir] = shared.iterdir()
    note = (vault / "vaultlab" / "results" / f"{run_dir.name}.md").read_text(encoding="utf-8")
    assert f"Run directory: `{run_dir}`" in note  # where the run really is, not the default folder


def test_a_collector_waits_for_the_lock_or_says_who_holds_it(vault, capsys):
    (vault / "vaultlab" / "Dashboard.md").unlink()
    before = digests(vault)
    with vault_lock(vault, 1):
        assert collect(vault, timeout_s=0.3) == 1
        assert digests(vault) == before  # it did not write while another writer held the lock
    said = capsys.readouterr().err
    assert f"pid {os.getpid()}" in said and "gave up after 0.3 s" in said

    held = threading.Event()

    def hold() -> None:
        with vault_lock(vault, 1):
            held.set()
            time.sleep(0.5)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait()
    t0 = time.monotonic()
    assert collect(vault, timeout_s=30) == 0
    holder.join()
    assert time.monotonic() - t0 >= 0.4 and "waiting for the vault lock" in capsys.readouterr().err
    assert (vault / "vaultlab" / "Dashboard.md").is_file()


def test_two_collectors_started_at_once_write_once(vault):
    (vault / "vaultlab" / "Dashboard.md").unlink()
    for note in (vault / "vaultlab" / "results").glob("*.md"):
        note.unlink()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    command = [sys.executable, "-m", "vaultlab", "collect", str(vault)]
    procs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    # The one that got the lock first wrote both files; the other then found nothing to change.
    assert sorted("2 file(s) written" in out for out in outputs) == [False, True], outputs
    assert sorted("0 files written" in out for out in outputs) == [False, True], outputs


def test_no_write_environment_variable(monkeypatch):
    monkeypatch.delenv("VAULTLAB_NO_WRITE", raising=False)
    assert not writes_disabled()
    monkeypatch.setenv("VAULTLAB_NO_WRITE", "1")
    assert writes_disabled()
    monkeypatch.setenv("VAULTLAB_NO_WRITE", "0")
    assert not writes_disabled()


def test_sync_rendering_finished_runs_never_imports_torch(vault):
    for note in (vault / "vaultlab" / "results").glob("*.md"):
        note.unlink()
    script = ("import runpy, sys\nsys.argv = ['vaultlab', 'sync', sys.argv[1]]\n"
              "try:\n    runpy.run_module('vaultlab', run_name='__main__')\nexcept SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
              "print('imported torch:', 'torch' in sys.modules)\n")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", script, str(vault)], env=env, capture_output=True, text=True, timeout=120)
    assert "imported torch: False" in done.stdout, done.stdout + done.stderr
    assert "vaultlab/results/" in done.stdout  # it did render the run's result note


def test_a_run_directory_from_before_specs_named_their_note_is_placed_by_experiment_id(vault):
    import json

    [run_dir] = (vault / ".vaultlab" / "runs").iterdir()
    spec = json.loads((run_dir / "spec.json").read_text())
    for key in ("note", "paper_title", "protocol_group"):
        del spec[key]
    (run_dir / "spec.json").write_text(json.dumps(spec))
    note = vault / "vaultlab" / "results" / f"{run_dir.name}.md"
    written, paper = note.read_bytes(), (vault / NOTE).read_bytes()
    note.unlink()
    assert collect(vault) == 0
    assert note.read_bytes() == written and (vault / NOTE).read_bytes() == paper
