"""Atomic, conflict-checked writes that never leave the vault."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from vaultlab.vault import write
from vaultlab.vault.write import ABSENT, ChangeSet, OutsideVault, WriteConflict, digest, safe_path, sanitize_name, write_atomic


def test_unchanged_is_not_written(tmp_path: Path) -> None:
    path = tmp_path / "n.md"
    path.write_bytes(b"same")
    before = path.stat().st_mtime_ns
    assert write_atomic(path, b"same", digest(b"same")) is False
    assert path.stat().st_mtime_ns == before


def test_conflict_leaves_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "n.md"
    path.write_bytes(b"read by vaultlab")
    seen = digest(path.read_bytes())
    path.write_bytes(b"edited by the user meanwhile")
    with pytest.raises(WriteConflict, match="n.md"):
        write_atomic(path, b"vaultlab's version", seen)
    assert path.read_bytes() == b"edited by the user meanwhile"
    with pytest.raises(WriteConflict):
        write_atomic(path, b"new file?", ABSENT)


def test_failure_mid_write_keeps_original_and_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "n.md"
    path.write_bytes(b"original")

    def broken_replace(src, dst):  # noqa: ANN001
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, b"new", digest(b"original"))
    assert path.read_bytes() == b"original"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n.md"]


def test_mode_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "n.md"
    path.write_bytes(b"x")
    path.chmod(0o444)
    assert write_atomic(path, b"y", digest(b"x"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o444 and path.read_bytes() == b"y"


def test_outside_vault_is_refused(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    vault.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (vault / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OutsideVault):
        safe_path(vault, "../x.md")
    with pytest.raises(OutsideVault):
        safe_path(vault, "/etc/passwd")
    with pytest.raises(OutsideVault):
        safe_path(vault, "link/x.md")
    with pytest.raises(OutsideVault):
        write_atomic(tmp_path / "elsewhere/x.md", b"x", None, root=vault)


def test_names_are_sanitised() -> None:
    assert sanitize_name("..Run #3: a|b^c [[x]] %%y%%\x07") == "Run 3 abc x y"
    with pytest.raises(ValueError):
        sanitize_name("...")
    assert safe_path(Path("/v"), "vaultlab/results/r: 1.md") == Path("/v/vaultlab/results/r 1.md")
    assert safe_path(Path("/v"), ".vaultlab/runs/x", hidden_ok=True) == Path("/v/.vaultlab/runs/x")


def test_changeset_diff_apply_and_conflicts(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_bytes(b"a\n")
    (tmp_path / "b.md").write_bytes(b"b\n")
    changes = ChangeSet(tmp_path)
    changes.add("a.md", b"a2\n", b"a\n")
    changes.add("b.md", b"b2\n", b"b\n")
    changes.add("same.md", b"s", b"s")
    changes.add("new/c.md", b"c\n", None)
    assert changes.changed == ["a.md", "b.md", "new/c.md"]
    diff = changes.diff()
    assert "--- a/a.md\n+++ b/a.md\n" in diff and "-a\n+a2\n" in diff and "--- /dev/null\n+++ b/new/c.md" in diff
    (tmp_path / "b.md").write_bytes(b"user edit\n")
    report = changes.apply()
    assert report.written == ["a.md", "new/c.md"]
    assert [c.path for c in report.conflicts] == ["b.md"] and not report.ok
    assert (tmp_path / "b.md").read_bytes() == b"user edit\n" and (tmp_path / "new/c.md").read_bytes() == b"c\n"


def test_dir_fsync_failure_is_tolerated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(write.os, "fsync", lambda fd: None)
    assert write_atomic(tmp_path / "x.md", b"x", ABSENT)
