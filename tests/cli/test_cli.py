"""The command line as a user meets it: the example vault, a tiny run, write-back, bad input."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vaultlab.cli import app
from tests.conftest import copy_example_vault

EXAMPLE = Path(__file__).resolve().parents[2] / "example_vault"
SEEDS = sorted(p.name for p in EXAMPLE.glob("*.md"))

# Small enough for seconds on 2 cores; the shape of the defaults otherwise.
TINY = """\
synthfas:
  subjects: 10
  image_size: 32
  frames: 1
  bona_fide_videos: 2
experiments:
  003_distillation:
    teacher_epochs: 1
    teacher_steps_per_epoch: 4
    student_epochs: 1
    student_steps_per_epoch: 4
    batch_size: 16
    k: 3
    input_size: 64
"""


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def vault(tmp_path) -> Path:
    root = tmp_path / "vault"
    copy_example_vault(root)
    return root


def tiny(vault: Path) -> Path:
    (vault / ".vaultlab").mkdir(exist_ok=True)
    (vault / ".vaultlab" / "config.yaml").write_text(TINY)
    return vault


def digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and ".vaultlab" not in p.parts}


def strip_owned(text: str) -> str:
    """The note minus what vaultlab may own: its frontmatter keys and its Results rows."""
    text = re.sub(r"^(progress|experiment|last_run): .*\n", "", text, flags=re.M)
    return re.sub(r"^\| SynthFAS .*\[\[vaultlab/results/.*\n", "", text, flags=re.M)


def test_sync_summarises_and_list_shows_every_note_with_its_id(vault):
    result = invoke("sync", str(vault))
    assert result.exit_code == 0, result.output
    assert "5 paper notes · 5 runnable · 0 not runnable" in result.output
    assert "000_6f73c2b86093280e.md (progress, experiment)" in result.output
    # one line for the five garbled statuses, one for the pair of notes on the same paper
    assert result.output.count("looks garbled") == 1 and "5 places" in result.output
    assert result.output.count("same paper") == 1 and "same paper in 2 notes" in result.output
    table = invoke("list", "--vault", str(vault)).stdout
    for exp_id in ("000_anomaly", "001_anomaly", "002_onesidetriplet", "003_distillation", "004_depthseg"):
        assert exp_id in table
    listing = json.loads(invoke("list", "--vault", str(vault), "--json").stdout)
    assert [row["id"] for row in listing] == ["000_anomaly", "001_anomaly", "002_onesidetriplet", "003_distillation", "004_depthseg"]
    assert listing[0]["duplicates"] == ["001_anomaly"] and listing[4]["variants"] == ["pspnet", "deeplabv3plus"]


def test_sync_changes_only_owned_keys_and_a_second_sync_changes_nothing(vault):
    assert invoke("sync", str(vault)).exit_code == 0
    for name in SEEDS:
        before = (EXAMPLE / name).read_text(encoding="utf-8")
        after = (vault / name).read_text(encoding="utf-8")
        assert after != before and strip_owned(after) == before
        assert re.search(r"^experiment: \d{3}_\w+$", after, re.M) and re.search(r"^progress: 0$", after, re.M)
    assert (vault / "vaultlab" / "Dashboard.md").exists() and (vault / "vaultlab" / "Runs.base").exists()
    snapshot = digests(vault)
    assert invoke("sync", str(vault)).exit_code == 0
    assert digests(vault) == snapshot
    assert invoke("sync", str(vault), "--check").exit_code == 0


def test_check_and_dry_run_write_nothing(vault):
    snapshot = digests(vault)
    check = invoke("sync", str(vault), "--check")
    assert check.exit_code == 1
    dry = invoke("sync", str(vault), "--dry-run")
    assert dry.exit_code == 0 and "+experiment: 003_distillation" in dry.output
    assert digests(vault) == snapshot


def test_fix_text_repairs_the_mojibake_status(vault):
    assert invoke("sync", str(vault), "--fix-text").exit_code == 0
    assert 'status: "📚 To Read"' in (vault / "003_2b75969d89ee11c2.md").read_text(encoding="utf-8")


def test_dashboard_keeps_text_the_user_adds_outside_the_region(vault):
    invoke("sync", str(vault))
    dashboard = vault / "vaultlab" / "Dashboard.md"
    dashboard.write_text(dashboard.read_text(encoding="utf-8") + "\nMy own remark.\n", encoding="utf-8")
    invoke("sync", str(vault))
    assert dashboard.read_text(encoding="utf-8").endswith("\nMy own remark.\n")


def test_show_lists_sources_and_assumptions(vault):
    result = invoke("show", "003", "--vault", str(vault))
    assert result.exit_code == 0
    assert "alexnet" in result.output and "note" in result.output and "card" in result.output
    assert "[I]" in result.output or "[R" in result.output


def test_unknown_experiment_protocol_and_set_are_clear_usage_errors(vault):
    bad_exp = invoke("run", "003_distilation", "--vault", str(vault), "--dry-run")
    assert bad_exp.exit_code == 2 and "003_distillation" in bad_exp.output
    bad_protocol = invoke("run", "003_distillation", "--vault", str(vault), "--protocol", "lodoo:D1", "--dry-run")
    assert bad_protocol.exit_code == 2 and "lodo" in bad_protocol.output
    bad_domain = invoke("run", "003_distillation", "--vault", str(vault), "--protocol", "lodo:D9", "--dry-run")
    assert bad_domain.exit_code == 2 and "D0, D1, D2, D3" in bad_domain.output
    bad_set = invoke("run", "003_distillation", "--vault", str(vault), "--set", "teacher_epoks=3", "--dry-run")
    assert bad_set.exit_code == 2 and "teacher_epochs" in bad_set.output
    bad_syntax = invoke("run", "003_distillation", "--vault", str(vault), "--set", "teacher_epochs", "--dry-run")
    assert bad_syntax.exit_code == 2 and "key=value" in bad_syntax.output


def test_dry_run_prints_the_plan_and_trains_nothing(vault):
    result = invoke("run", "003_distillation", "--vault", str(vault), "--dry-run")
    assert result.exit_code == 0 and "adapt:D0->D1" in result.output
    assert not (vault / ".vaultlab" / "runs").exists()


def test_run_writes_rows_result_note_and_plots_without_touching_user_bytes(vault):
    tiny(vault)
    user_row = "| My lab data | HTER (%) | 3.1 | 4.0 |"
    note = vault / "003_2b75969d89ee11c2.md"
    original = note.read_text(encoding="utf-8").replace("|         |        |        |          |", user_row)
    note.write_text(original, encoding="utf-8")

    result = invoke("run", "003_distillation", "--vault", str(vault), "--quiet", "--seeds", "0")
    assert result.exit_code == 0, result.output
    text = note.read_text(encoding="utf-8")
    assert user_row in text and strip_owned(text) == original
    rows = [line for line in text.splitlines() if "[[vaultlab/results/" in line]
    assert [r.split("|")[1].strip() for r in rows] == ["SynthFAS adapt:D0->D1"] * 4  # HTER, AUC vs baseline; vs teacher
    assert "vs teacher" in rows[2] and "teacher: " in rows[2]

    [run_dir] = (vault / ".vaultlab" / "runs").iterdir()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    hter = metrics["method"]["dev-eer"]["hter"]
    assert f"|{hter:.2f} (n=1)]]" in rows[0]
    result_note = vault / "vaultlab" / "results" / f"{run_dir.name}.md"
    body = result_note.read_text(encoding="utf-8")
    assert f"hter: {hter}" in body and "threshold_policy: dev-eer" in body
    for embed in re.findall(r"!\[\[(.+?\.png)\]\]", body):
        assert (vault / embed).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "003_distillation" in (vault / "vaultlab" / "Dashboard.md").read_text(encoding="utf-8")

    # A re-run reuses the finished run and rewrites nothing the user owns, with no duplicate rows.
    again = invoke("run", "003_distillation", "--vault", str(vault), "--quiet", "--seeds", "0")
    assert again.exit_code == 0 and "already done" in again.output
    text2 = note.read_text(encoding="utf-8")
    assert len([line for line in text2.splitlines() if "[[vaultlab/results/" in line]) == 4 and user_row in text2


def test_dashboard_shows_the_status_sync_just_wrote_so_a_second_sync_changes_nothing(vault):
    assert invoke("sync", str(vault)).exit_code == 0
    note = vault / "003_2b75969d89ee11c2.md"
    note.write_text(note.read_text(encoding="utf-8").replace("- [ ] Abstract", "- [x] Abstract"), encoding="utf-8")
    first = invoke("sync", str(vault))
    assert first.exit_code == 0 and "003_2b75969d89ee11c2.md (status, progress)" in first.output
    assert 'status: "📖 Reading"' in note.read_text(encoding="utf-8")
    row = next(line for line in (vault / "vaultlab" / "Dashboard.md").read_text(encoding="utf-8").splitlines() if "003_distillation" in line)
    assert "📖 Reading" in row and "14 %" in row
    snapshot = digests(vault)
    second = invoke("sync", str(vault))
    assert second.exit_code == 0 and "0 files written" in second.output
    assert digests(vault) == snapshot


def test_list_reads_at_80_columns_and_never_breaks_a_word(vault):
    import io

    from rich.console import Console

    from vaultlab.cli_report import show_experiment_table
    from vaultlab.workspace import open_workspace

    seed = (vault / "001_f9e3f98b3f0cbdfd.md").read_text(encoding="utf-8")
    (vault / "Deep Anomaly Detection for Generalized Face Anti-Spoofing (second reading).md").write_text(seed, encoding="utf-8")
    quantum = "---\ntags: [paper]\n---\n# Quantum PAD\n\n## Quick Summary\n**Method:** Quantum Entanglement PAD\n"
    (vault / "005_quantum.md").write_text(quantum, encoding="utf-8")
    ws = open_workspace(vault)
    console = Console(width=80, file=io.StringIO(), color_system=None)
    show_experiment_table(ws, console)
    lines = console.file.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80
    rows = [line.split("│") for line in lines if line.count("│") == 5]
    rendered = " ".join(row[4] for row in rows).split()
    written = {word.strip(";,") for word in " ".join(["same paper as", "variants: pspnet, deeplabv3plus",
               *(e.runnable_reason for e in ws.experiments), *(" ".join(e.duplicates) for e in ws.experiments)]).split()}
    assert "paper" in rendered and "'Quantum" in rendered
    assert all(word.strip(";,") in written or word.endswith("…") for word in rendered), rendered


def test_a_broken_vault_config_is_a_one_line_usage_error(vault):
    (vault / ".vaultlab").mkdir()
    (vault / ".vaultlab" / "config.yaml").write_text("output_folder: [1\n")
    for args in (("sync", str(vault)), ("collect", str(vault)), ("list", "--vault", str(vault))):
        result = invoke(*args)
        assert result.exit_code == 2 and ".vaultlab/config.yaml:2" in result.output and "Traceback" not in result.output


def test_a_warning_names_the_line_as_the_note_is_after_the_sync_wrote_it(vault):
    """Sync adds `experiment:` to the frontmatter; a warning about the Quick Summary below must name the
    line the user opens afterwards, not the line it had before the write."""
    note = vault / "050_survey.md"
    note.write_text('---\ntags: [paper]\nstatus: "To Read"\n---\n\n# Central Difference Nets\n\n## Quick Summary\n'
                    "**Method:** CDCN++\n- **Backbone:** CDCN++\n- **Loss:** Depth loss\n", encoding="utf-8")
    result = invoke("sync", str(vault))
    lines = note.read_text(encoding="utf-8").splitlines()
    assert "experiment:" in "\n".join(lines[:5])  # the sync did write above the summary
    found = re.search(r"050_survey\.md:(\d+): warning: Backbone: unknown term 'CDCN\+\+'", result.output)
    assert found, result.output
    assert lines[int(found.group(1)) - 1] == "- **Backbone:** CDCN++"


def test_sync_without_a_folder_finds_the_vault_as_list_does_and_never_writes_elsewhere(vault, tmp_path, monkeypatch):
    outside = tmp_path / "not-a-vault"
    (outside / "notes").mkdir(parents=True)
    (outside / "notes" / "paper.md").write_text("---\nstatus: To Read\n---\n# A paper\n")
    before = digests(outside)
    monkeypatch.chdir(outside / "notes")
    monkeypatch.delenv("VAULTLAB_VAULT", raising=False)
    result = invoke("sync")
    assert result.exit_code == 2 and "no folder holding .obsidian/" in result.output
    assert digests(outside) == before and not (outside / ".vaultlab").exists()
    monkeypatch.setenv("VAULTLAB_VAULT", str(vault))
    assert invoke("sync").exit_code in (0, 1)
    assert digests(outside) == before and (vault / ".vaultlab").is_dir()
    monkeypatch.chdir(vault / ".obsidian")  # a folder inside the vault: the vault is the nearest .obsidian/ above
    monkeypatch.delenv("VAULTLAB_VAULT")
    assert invoke("sync", "--check").exit_code == 0  # found from inside the vault; nothing left to change
