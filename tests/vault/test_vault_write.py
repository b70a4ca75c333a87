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


def test_changeset_commits_in_two_phases(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every new version is staged (and flushed) before any original is replaced; a note edited after
    it was staged is a conflict at commit time, its temp file removed and the user's bytes kept."""
    for name in ("a.md", "b.md", "c.md"):
        (tmp_path / name).write_bytes(name.encode() + b"\n")
    changes = ChangeSet(tmp_path)
    for name in ("a.md", "b.md", "c.md"):
        changes.add(name, name.encode() + b" v2\n", name.encode() + b"\n")
    flushed: list[list[str]] = []

    def flush(root: Path, paths: list[str]) -> None:
        flushed.append(sorted(Path(p).name.split(".vaultlab-tmp")[0] for p in paths))
        assert all((tmp_path / n).read_bytes() == n.encode() + b"\n" for n in ("a.md", "b.md", "c.md"))  # originals untouched
        (tmp_path / "b.md").write_bytes(b"user edit\n")  # the user saves b.md while vaultlab flushes

    monkeypatch.setattr(write, "_flush", flush)
    report = changes.apply()
    assert len(flushed) == 1 and len(flushed[0]) == 3
    assert report.written == ["a.md", "c.md"] and [c.path for c in report.conflicts] == ["b.md"]
    assert (tmp_path / "b.md").read_bytes() == b"user edit\n" and (tmp_path / "a.md").read_bytes() == b"a.md v2\n"
    assert set(report.stats) == {"a.md", "c.md"} and report.stats["a.md"][0] == len(b"a.md v2\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.md", "b.md", "c.md"]  # no temp file left


def test_changeset_interrupted_before_commit_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.md").write_bytes(b"a\n")
    changes = ChangeSet(tmp_path)
    changes.add("a.md", b"a2\n", b"a\n")
    changes.add("new/n.md", b"n\n", None)

    def interrupted(root: Path, paths: list[str]) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(write, "_flush", interrupted)
    with pytest.raises(KeyboardInterrupt):
        changes.apply()
    assert (tmp_path / "a.md").read_bytes() == b"a\n" and not (tmp_path / "new/n.md").exists()
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "a.md"]


def _many_notes(root: Path, count: int) -> ChangeSet:
    """``count`` notes (enough for the commit threads) and a change set rewriting each."""
    changes = ChangeSet(root)
    for i in range(count):
        (root / f"n{i:03d}.md").write_bytes(b"old\n")
        changes.add(f"n{i:03d}.md", f"new {i}\n".encode(), b"old\n")
    return changes


def test_work_done_while_committing_does_not_stop_the_commits(tmp_path: Path) -> None:
    """``while_committing`` runs once, during the commit; an error in it is raised only once every
    note is written, and no temp file stays."""
    changes = _many_notes(tmp_path, 40)
    seen: list[list[str]] = []

    def meanwhile() -> None:
        seen.append(sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".vaultlab-tmp")))
        raise RuntimeError("a bug in the caller's own work")

    with pytest.raises(RuntimeError, match="caller's own work"):
        changes.apply(while_committing=meanwhile)
    assert len(seen) == 1  # called once (the commit threads may have renamed some temp files by then)
    assert all((tmp_path / f"n{i:03d}.md").read_bytes() == f"new {i}\n".encode() for i in range(40))
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"n{i:03d}.md" for i in range(40)]


def test_ctrl_c_while_committing_leaves_each_note_whole(tmp_path: Path) -> None:
    changes = _many_notes(tmp_path, 40)

    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        changes.apply(while_committing=interrupted)
    assert all((tmp_path / f"n{i:03d}.md").read_bytes() in (b"old\n", f"new {i}\n".encode()) for i in range(40))
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"n{i:03d}.md" for i in range(40)]  # no temp file left


def test_changeset_keeps_mode_and_refuses_links(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_bytes(b"a\n")
    (tmp_path / "a.md").chmod(0o640)
    outside = tmp_path.parent / f"{tmp_path.name}-outside.md"
    outside.write_bytes(b"o\n")
    (tmp_path / "link.md").symlink_to(outside)
    changes = ChangeSet(tmp_path)
    changes.add("a.md", b"a2\n", b"a\n")
    changes.add("link.md", b"x\n", b"o\n")
    report = changes.apply()
    assert report.written == ["a.md"] and (tmp_path / "a.md").stat().st_mode & 0o777 == 0o640
    assert [path for path, _ in report.errors] == ["link.md"] and outside.read_bytes() == b"o\n"


def test_line_after_maps_lines_around_an_edit(tmp_path: Path) -> None:
    """Warnings on a note the sync rewrote name the line as written: lines above the edit stay,
    lines below move by the lines it added, a line inside it maps to where the edit starts."""
    old = b"---\nstatus: a\ndateread:\n---\n# T\nbody\n"
    new = b"---\nstatus: b\ndateread:\nprogress: 0\nexperiment: x\n---\n# T\nbody\n"
    changes = ChangeSet(tmp_path)
    changes.add("n.md", new, old)
    assert [changes.line_after("n.md", line) for line in range(1, 8)] == [1, 2, 3, 6, 7, 8, 9]
    changes.add("n.md", b"---\n---\n", old)  # a new plan for the file: mapped afresh
    assert changes.line_after("n.md", 5) == 3 and changes.line_after("other.md", 5) == 5
