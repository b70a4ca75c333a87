"""The sync planner on the seed notes: owned keys only, reading-state transitions, cache, conflicts."""

from __future__ import annotations

import datetime as dt
import os
import pickle
from pathlib import Path

import pytest

from vaultlab.vault import cache as note_cache
from vaultlab.vault import sync
from vaultlab.vault.config import VaultConfig
from vaultlab.vault.note import parse_note_bytes
from vaultlab.vault.sync import load_notes, plan_note_updates, plan_sync, styled_status

from .conftest import SEEDS

TODAY = dt.date(2026, 1, 2)


def test_seed_sync_adds_only_owned_keys_and_second_sync_is_noop(seed_vault: Path) -> None:
    config = VaultConfig.load(seed_vault)
    notes, diagnostics = load_notes(seed_vault, config)
    assert len(notes) == 5 and sum("mojibake" in d.message for d in diagnostics) == 5
    ids = {n.relpath: f"{n.stem[:3]}_card" for n in notes}
    changes, problems = plan_sync(seed_vault, notes, config, ids, today=TODAY)
    assert not problems and len(changes.changed) == 5
    for relpath in changes.changed:
        planned = changes.planned[relpath]
        old, new = planned.old.decode().splitlines(True), planned.new.decode().splitlines(True)
        added = [line for line in new if line not in old]
        assert added == ["progress: 0\n", f"experiment: {relpath[:3]}_card\n"]
        assert [line for line in new if line in old] == old
    assert changes.apply().ok
    notes, _ = load_notes(seed_vault, config)
    again, _ = plan_sync(seed_vault, notes, config, ids, today=TODAY)
    assert again.changed == []


def test_warm_sync_parses_nothing(seed_vault: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = VaultConfig.load(seed_vault)
    load_notes(seed_vault, config)
    calls = []
    monkeypatch.setattr(sync, "parse_note_bytes", lambda *a: calls.append(a) or parse_note_bytes(*a))
    notes, _ = load_notes(seed_vault, config)
    assert calls == [] and len(notes) == 5 and notes[0].sections  # sections still computed on demand
    first = seed_vault / SEEDS[0].name
    os.utime(first, ns=(1, 1))  # touched, same bytes: the sha256 decides, no parse
    load_notes(seed_vault, config)
    assert calls == []
    first.write_bytes(first.read_bytes().replace(b"- [ ] Abstract", b"- [x] Abstract"))
    notes, _ = load_notes(seed_vault, config)
    assert len(calls) == 1 and notes[0].progress == 14


def test_poisoned_cache_is_ignored(seed_vault: Path) -> None:
    class Evil:
        def __reduce__(self):  # noqa: ANN204
            return (os.system, ("echo pwned > /dev/null",))

    path = seed_vault / note_cache.CACHE_RELPATH
    path.parent.mkdir(parents=True)
    path.write_bytes(pickle.dumps({"version": note_cache.PARSER_VERSION, "entries": Evil()}))
    assert note_cache.load(seed_vault) == {}
    notes, _ = load_notes(seed_vault, VaultConfig.load(seed_vault))
    assert len(notes) == 5


def note_with(progress_marks: str, status: str = '"📚 To Read"', extra: str = "dateread: \n"):
    tasks = "".join(f"- [{m}] step {i}\n" for i, m in enumerate(progress_marks))
    text = f"---\ntags: [paper]\nstatus: {status}\n{extra}---\n## Quick Summary\n**Method:** X\n\n**Reading Progress:**\n{tasks}"
    return parse_note_bytes(text.encode(), Path("/v/n.md"), "n.md")


def config() -> VaultConfig:
    return VaultConfig(root=Path("/v"), types={"progress": "number", "dateread": "date"})


def test_reading_state_transitions_keep_the_notes_style() -> None:
    new = plan_note_updates(note_with("x  "), None, config(), today=TODAY).decode()
    assert 'status: "📖 Reading"\n' in new and "progress: 33\n" in new and "dateread: \n" in new
    new = plan_note_updates(note_with("xxx", status="'reading'"), None, config(), today=TODAY).decode()
    assert "status: 'Read'\n" in new and "dateread: 2026-01-02\n" in new and "progress: 100\n" in new
    # First sync, nothing ticked, status says Read: vaultlab only moves forward without a record.
    kept = plan_note_updates(note_with("   ", status="Read"), None, config()).decode()
    assert "status: Read\n" in kept and "progress: 0\n" in kept
    # With a recorded progress, unticking everything moves the status back.
    back = plan_note_updates(note_with("   ", status="Read", extra="progress: 100\n"), None, config()).decode()
    assert "status: To Read\n" in back and "progress: 0\n" in back
    # An unknown status is the user's: never touched.
    assert "status: Abandoned" in plan_note_updates(note_with("x  ", status="Abandoned"), None, config()).decode()


def test_garbled_status_is_repaired_when_rewritten_or_asked() -> None:
    garbled = '"ðŸ“š To Read"'
    new = plan_note_updates(note_with("x  ", status=garbled), None, config()).decode()
    assert 'status: "📖 Reading"' in new
    assert plan_note_updates(note_with("   ", status=garbled, extra="progress: 0\n"), None, config()) is None
    fixed = plan_note_updates(note_with("   ", status=garbled, extra="progress: 0\n"), None, config(), fix_text=True)
    assert 'status: "📚 To Read"' in fixed.decode()
    assert styled_status("✅ Done", "reading") == "📖 Reading" and styled_status("done", "read") == "Read"


def test_notes_with_errors_are_never_planned() -> None:
    broken = parse_note_bytes(b"---\ntags: [paper]\na: b: c\n---\n- [x] a\n", Path("/v/b.md"), "b.md")
    assert not broken.usable and plan_note_updates(broken, "x", config()) is None


def test_note_edited_during_sync_is_a_conflict(seed_vault: Path) -> None:
    config = VaultConfig.load(seed_vault)
    notes, _ = load_notes(seed_vault, config, cache=False)
    changes, _ = plan_sync(seed_vault, notes, config, {n.relpath: "exp" for n in notes})
    victim = seed_vault / notes[2].relpath
    victim.write_bytes(victim.read_bytes() + b"\nuser typing...\n")
    user_bytes = victim.read_bytes()
    report = changes.apply()
    assert [c.path for c in report.conflicts] == [notes[2].relpath] and len(report.written) == 4
    assert victim.read_bytes() == user_bytes


def _variants():
    for path in SEEDS:
        text = path.read_text(encoding="utf-8").replace("- [ ] Abstract", "- [x] Abstract")
        yield path.name, text
        yield path.name + " crlf+bom", "\ufeff" + text.replace("\n", "\r\n")
        yield path.name + " link", text.replace("## Quick Summary", "See [[../outside]].\n\n## Quick Summary")
    yield "no summary", "---\ntags: [paper]\nstatus: Reading\n---\n# T\n**Reading Progress:**\n- [x] a\n- [ ] b\n"


@pytest.mark.parametrize("records_read", [False, True])
def test_reparsing_after_property_edits_reuses_the_body_and_equals_a_full_parse(records_read: bool, monkeypatch) -> None:
    from vaultlab.vault import blocks

    config = VaultConfig(root=Path("/v"))
    for name, text in _variants():
        path = Path("/v") / "n.md"
        old = parse_note_bytes(text.encode(), path, "n.md")
        if records_read:  # resolve_vault reads these: they are records then, not rows
            assert old.summary is not None and old.progress_tasks is not None
        new = plan_note_updates(old, "007_card", config, fix_text=True, today=TODAY)
        assert new is not None, name
        full = parse_note_bytes(new, path, "n.md")
        with monkeypatch.context() as patch:  # the body must not be scanned again
            patch.setattr(blocks, "quick_summary", None)
            reused = parse_note_bytes(new, path, "n.md", same_body_as=old)
        assert note_cache.note_state(reused) == note_cache.note_state(full), name
        assert full.frontmatter_end != old.frontmatter_end or name == "no summary"  # lines did shift


def test_resolving_the_written_notes_reuses_what_the_writes_did_not_change(seed_vault: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The memo's next-sync computation resolves the notes as written (properties added, bodies moved
    down) from the experiments of the notes as read: the same experiments as a full resolve, lines
    moved; a note whose resolver inputs changed (here its Method) is resolved again."""
    from vaultlab.catalog import resolve
    from vaultlab.workspace import open_workspace
    from vaultlab.writeback import plan_vault

    ws = open_workspace(seed_vault)
    plan = plan_vault(ws)
    after = list(plan.notes_after)
    edited = next(i for i, n in enumerate(after) if n.summary_field("method") is not None)
    raw = after[edited].raw_text.replace("**Method:**", "**Method:** Baseline,", 1).encode()
    after[edited] = parse_note_bytes(raw, after[edited].path, after[edited].relpath)
    assert any(n.frontmatter_end != m.frontmatter_end for n, m in zip(after, ws.notes))  # lines did move
    calls: list[str] = []
    real = resolve.resolve_note
    monkeypatch.setattr(resolve, "resolve_note", lambda note, *a, **k: calls.append(note.relpath) or real(note, *a, **k))
    reused = resolve.resolve_vault(after, ws.catalog, ws.config.raw, earlier=ws.experiments)
    assert calls == [after[edited].relpath]
    monkeypatch.setattr(resolve, "resolve_note", real)
    assert reused == resolve.resolve_vault(after, ws.catalog, ws.config.raw)
