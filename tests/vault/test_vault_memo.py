"""The sync memo: a sync with nothing to change prints the recorded summary, and only when every
input a sync reads is as it was (vault.memo)."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import pytest
from rich.console import Console

from vaultlab.collect import collect
from vaultlab.vault import memo
from vaultlab.vault.config import VaultConfig


def sync(root: Path, **options) -> tuple[int, str]:  # noqa: ANN003
    sink = io.StringIO()
    code = collect(root, console=Console(file=sink, width=80, emoji=False), **options)
    return code, sink.getvalue()


def recorded(root: Path) -> bool:
    return (root / memo.MEMO_RELPATH).exists() and memo.load(root, memo.take(root, VaultConfig.load(root))) is not None


def test_the_sync_after_one_that_wrote_prints_what_a_full_sync_prints(seed_vault: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, first = sync(seed_vault)
    assert code == 0 and "file(s) written" in first and recorded(seed_vault)
    code, memoised = sync(seed_vault, verbose=True)
    assert code == 0 and "0 files written (nothing changed)" in memoised
    monkeypatch.setattr(memo, "load", lambda root, state: None)  # the same sync, computed in full
    assert sync(seed_vault, verbose=True) == (0, memoised)


def test_the_memo_is_used_and_any_input_change_bypasses_it(seed_vault: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sync(seed_vault)
    calls = []
    real_open = __import__("vaultlab.workspace", fromlist=["open_workspace"]).open_workspace
    monkeypatch.setattr("vaultlab.workspace.open_workspace", lambda root: calls.append(root) or real_open(root))
    sync(seed_vault)
    assert calls == []  # answered from the memo
    note = sorted(seed_vault.glob("00*.md"))[2]
    note.write_text(note.read_text(encoding="utf-8").replace("- [ ] Abstract", "- [x] Abstract", 1), encoding="utf-8")
    code, out = sync(seed_vault)
    assert len(calls) == 1 and f"  {note.name} (" in out and "progress" in out  # the edit was read and its progress written
    dashboard = seed_vault / "vaultlab" / "Dashboard.md"
    dashboard.unlink()
    code, out = sync(seed_vault)
    assert len(calls) == 2 and dashboard.exists() and "vaultlab/Dashboard.md" in out
    (seed_vault / ".vaultlab" / "config.yaml").write_text("overrides:\n  epochs: 3\n", encoding="utf-8")
    sync(seed_vault)
    assert len(calls) == 3  # the vault's settings are an input
    assert sync(seed_vault)[0] == 0 and len(calls) == 3


def test_a_note_edited_while_the_sync_writes_is_not_memoised(seed_vault: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vaultlab import writeback

    victim = sorted(seed_vault.glob("00*.md"))[4]
    real = writeback.remember_outcome

    def user_types(ws, plan, result, before, **kwargs):  # noqa: ANN001, ANN003 - the user saves a note just before the memo is taken
        victim.write_bytes(victim.read_bytes() + b"\nuser typing\n")
        real(ws, plan, result, before, **kwargs)

    monkeypatch.setattr(writeback, "remember_outcome", user_types)
    sync(seed_vault)
    assert not (seed_vault / memo.MEMO_RELPATH).exists()


def test_the_next_sync_is_planned_once_while_the_notes_are_renamed(seed_vault: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The memo's "next sync" is computed during the commit, for the files planned, and reused
    when exactly those were written; the memo it records is what a full sync then prints."""
    from vaultlab import writeback
    from vaultlab.vault.write import ChangeSet

    calls, real_next, real_apply = [], writeback.next_sync, ChangeSet.apply
    monkeypatch.setattr(writeback, "next_sync", lambda *args: calls.append("next_sync") or real_next(*args))
    monkeypatch.setattr(ChangeSet, "apply", lambda self, **kw: calls.append("apply") or real_apply(self, **kw))
    code, first = sync(seed_vault)
    assert code == 0 and "file(s) written" in first and recorded(seed_vault)
    assert calls == ["apply", "next_sync"]
    code, memoised = sync(seed_vault, verbose=True)
    monkeypatch.setattr(memo, "load", lambda root, state: None)
    assert sync(seed_vault, verbose=True) == (0, memoised)


def test_a_damaged_or_hostile_memo_is_ignored(seed_vault: Path) -> None:
    sync(seed_vault)
    path = seed_vault / memo.MEMO_RELPATH
    state = memo.take(seed_vault, VaultConfig.load(seed_vault))
    path.write_bytes(pickle.dumps({"version": memo.MEMO_VERSION, "key": state.key(), "outcome": Path("x")}))
    assert memo.load(seed_vault, state) is None
    path.write_bytes(b"\x80garbage")
    assert memo.load(seed_vault, state) is None
    code, out = sync(seed_vault)
    assert code == 0 and "0 files written (nothing changed)" in out and recorded(seed_vault)


def test_a_sync_that_wrote_leaves_a_parse_cache_that_needs_no_parse(seed_vault: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The parse cache is written once per sync (``cache.batched``), with the notes as written."""
    from vaultlab.vault import cache, sync as vault_sync

    writes = []
    real_write = cache._write
    monkeypatch.setattr(cache, "_write", lambda root, entries: writes.append(len(entries)) or real_write(root, entries))
    code, out = sync(seed_vault)
    assert code == 0 and "file(s) written" in out and len(writes) == 1

    def no_parse(*args, **kwargs):  # noqa: ANN002, ANN003
        raise AssertionError("parsed a note the cache holds")

    monkeypatch.setattr(vault_sync, "parse_note_bytes", no_parse)
    notes, _ = vault_sync.load_notes(seed_vault, VaultConfig.load(seed_vault))
    paper = [n for n in notes if n.is_paper]
    assert len(paper) == 5 and all(n.frontmatter.get("experiment") for n in paper)


def test_an_unreadable_note_is_never_memoised(seed_vault: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vaultlab.vault import sync as vault_sync
    from vaultlab.vault.model import Diagnostic

    victim = sorted(seed_vault.glob("00*.md"))[3].name
    real_read = vault_sync._read

    def read(path, relpath, diagnostics, size_hint=-1):  # noqa: ANN001 - as if the file could not be opened
        if relpath == victim:
            diagnostics.append(Diagnostic(relpath, 0, "error", "cannot read: Permission denied"))
            return None
        return real_read(path, relpath, diagnostics, size_hint)

    monkeypatch.setattr(vault_sync, "_read", read)
    code, out = sync(seed_vault)
    assert code == 1 and "cannot read" in out and not (seed_vault / memo.MEMO_RELPATH).exists()
    code, again = sync(seed_vault)
    assert "cannot read" in again and not (seed_vault / memo.MEMO_RELPATH).exists()
