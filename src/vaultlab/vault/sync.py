"""The sync planner: read every note (through the cache), then compute each paper note's new bytes.

``plan_note_updates`` is pure. It changes only vaultlab's keys (DESIGN §4): ``progress``,
``experiment``, ``status`` on a reading-state transition, ``dateread`` when reading completes and it
is empty, and (``fix_text``) mojibake in property values. Applying is ``write.ChangeSet``'s job.
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import cache as note_cache
from .config import DEFAULT_STATUS_VALUES, VaultConfig
from .edit import set_properties
from .model import Diagnostic, Note
from .note import parse_note_bytes
from .scan import walk_notes
from .text import READING_STATES, looks_garbled, reading_state, repair_text, split_symbol_prefix
from .write import ChangeSet

STATE_EMOJI = {"to_read": "📚", "reading": "📖", "read": "✅"}
_ORDER = {state: i for i, state in enumerate(READING_STATES)}


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector off for a block that builds a large, long-lived heap.

    A sync keeps ~20 small containers per note alive, then an Experiment of ~30 objects per note;
    the collector would rescan that growing heap again and again (a quarter to a half of a
    10,000-note sync), and none of it is garbage. Reference counting still frees everything else."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def load_notes(root: Path, config: VaultConfig, cache: bool = True) -> tuple[list[Note], list[Diagnostic]]:
    """Every note of the vault, parsed (or taken from the cache when unchanged), plus all diagnostics."""
    with paused_gc():
        return _load_notes(Path(root), config, cache)


def _load_notes(root: Path, config: VaultConfig, cache: bool) -> tuple[list[Note], list[Diagnostic]]:
    diagnostics: list[Diagnostic] = list(config.diagnostics)
    found = walk_notes(root, config, diagnostics)
    old = note_cache.load(root) if cache else {}
    fresh: dict[str, note_cache.Entry] = {}
    notes: list[Note] = []
    dirty = len(old) != len(found)
    paths = _PathMaker(root)
    for relpath, info in found:
        path = paths(relpath)
        entry = old.get(relpath)
        if entry is not None and entry[0] == info.st_size and entry[1] == info.st_mtime_ns:
            note = note_cache.note_from_state(entry[2], path)
        else:
            raw = _read(path, relpath, diagnostics, info.st_size)
            if raw is None:
                continue
            if entry is not None and entry[0] == len(raw) and hashlib.sha256(raw).hexdigest() == entry[2]["digest"]:
                note = note_cache.note_from_state(entry[2], path)  # touched, not changed
            else:
                note = parse_note_bytes(raw, path, relpath)
            entry, dirty = (len(raw), info.st_mtime_ns, note_cache.note_state(note)), True
        fresh[relpath] = entry
        notes.append(note)
        diagnostics.extend(note.diagnostics)
    if cache and (dirty or fresh.keys() != old.keys()):
        note_cache.save(root, fresh)
    return notes, diagnostics


def remember_written(root: Path, notes: list[Note], stats: Mapping[str, tuple[int, int]] | None = None) -> None:
    """Record notes vaultlab just wrote (parsed from the bytes it wrote) in the parse cache, so the
    next sync does not re-read them. ``stats``: relpath → (size, mtime_ns) of each file as
    ``ChangeSet.apply`` left it (``ApplyReport.stats``); without it, each file is read back and kept
    only when its bytes are the note's. A file edited since moves its mtime, and the next sync reads it."""
    if not notes:
        return
    entries = note_cache.load(root)
    if not entries:
        return
    for note in notes:
        if stats is not None:
            if note.relpath not in stats:
                continue
            size, mtime_ns = stats[note.relpath]
        else:
            try:
                info = os.stat(note.path)
                raw = note.path.read_bytes()
            except OSError:
                continue
            if len(raw) != info.st_size or hashlib.sha256(raw).hexdigest() != note.digest:
                continue
            size, mtime_ns = info.st_size, info.st_mtime_ns
        entries[note.relpath] = (size, mtime_ns, note_cache.note_state(note))
    note_cache.save(root, entries)


class _PathMaker:
    """``root / relpath`` for thousands of notes; pathlib's parsing was a visible share of a warm sync."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folders: dict[str, Path] = {"": root}
        self.child = getattr(Path, "_make_child_relpath", None)  # CPython's fast path, when present

    def __call__(self, relpath: str) -> Path:
        folder, _, name = relpath.rpartition("/")
        parent = self.folders.get(folder)
        if parent is None:
            parent = self.folders[folder] = self.root / folder
        return self.child(parent, name) if self.child is not None else parent / name


def _read(path: Path, relpath: str, diagnostics: list[Diagnostic], size_hint: int = -1) -> bytes | None:
    try:
        # os.open/os.read: Path.read_bytes' buffered file object costs a few extra system calls
        # (fstat, ioctl, lseek) per note, a visible share of a cold sync.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            first = os.read(fd, size_hint + 1 if size_hint >= 0 else 1 << 16)
            if 0 <= len(first) <= size_hint:  # a short read of a regular file is its end: one call per note
                return first
            chunks = [first]
            while chunks[-1]:
                chunks.append(os.read(fd, 1 << 16))
        finally:
            os.close(fd)
        return b"".join(chunks)
    except OSError as exc:
        diagnostics.append(Diagnostic(relpath, 0, "error", f"cannot read: {exc.strerror}"))
        return None


def plan_note_updates(
    note: Note,
    experiment_id: str | None,
    config: VaultConfig,
    fix_text: bool = False,
    today: dt.date | None = None,
) -> bytes | None:
    """The note's new bytes after vaultlab's property updates, or None when nothing changes."""
    if not note.is_paper or not note.usable or not note.has_frontmatter:
        return None
    updates = property_updates(note, experiment_id, config, fix_text, today)
    if not updates:
        return None
    text = note.raw_text
    new = set_properties(text, updates, config.types, current=note.frontmatter)
    return None if new == text else new.encode("utf-8")


def property_updates(
    note: Note,
    experiment_id: str | None,
    config: VaultConfig,
    fix_text: bool = False,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """The vaultlab-owned properties whose value should change (the decision, without the edit)."""
    props = note.frontmatter
    updates: dict[str, Any] = {}
    progress = note.progress
    recorded = props.get("progress")
    progress_changed = progress is not None and not _same_number(recorded, progress)
    if progress_changed:
        updates["progress"] = progress
    if experiment_id and props.get("experiment") != experiment_id:
        updates["experiment"] = experiment_id
    status = props.get("status")
    current_state = reading_state(status, config.status_values)
    if progress_changed and current_state is not None:
        target = "to_read" if progress == 0 else "read" if progress == 100 else "reading"
        first_sync = recorded is None
        if target != current_state and (not first_sync or _ORDER[target] > _ORDER[current_state]):
            # On the first sync vaultlab has no record of earlier progress, so it only moves a
            # status forward (a note marked "Read" with no ticked boxes keeps its status).
            updates["status"] = styled_status(status, target, config.status_values)
        if target == "read" and props.get("dateread") in (None, "") and "dateread" in props:
            updates["dateread"] = (today or dt.date.today()).isoformat()
    if fix_text:
        for key, value in props.items():
            if key in updates:
                continue
            if isinstance(value, str) and looks_garbled(value):
                updates[key] = repair_text(value)
            elif isinstance(value, list) and any(isinstance(v, str) and looks_garbled(v) for v in value):
                updates[key] = [repair_text(v) if isinstance(v, str) else v for v in value]
    return updates


def styled_status(current: Any, state: str, status_values: Mapping[str, str] | None = None) -> str:
    """The label for ``state`` in the note's own style: with an emoji prefix when it had one."""
    label = (status_values or {}).get(state) or DEFAULT_STATUS_VALUES[state]
    if split_symbol_prefix(label)[0].strip():
        return label  # the configured label carries its own symbol
    prefix = split_symbol_prefix(repair_text(current).strip())[0] if isinstance(current, str) else ""
    if prefix.strip():
        return f"{STATE_EMOJI[state]}{prefix[len(prefix.rstrip()):] or ' '}{label}"
    return label


def _same_number(recorded: Any, progress: int) -> bool:
    return isinstance(recorded, (int, float)) and not isinstance(recorded, bool) and recorded == progress


def plan_sync(
    root: Path,
    notes: list[Note],
    config: VaultConfig,
    experiment_ids: Mapping[str, str | None] | None = None,
    fix_text: bool = False,
    today: dt.date | None = None,
) -> tuple[ChangeSet, list[Diagnostic]]:
    """A ChangeSet with every paper note's property updates (``experiment_ids``: relpath → id)."""
    changes = ChangeSet(root)
    diagnostics: list[Diagnostic] = []
    ids = experiment_ids or {}
    for note in notes:
        try:
            new = plan_note_updates(note, ids.get(note.relpath), config, fix_text, today)
        except (ValueError, TypeError) as exc:  # a value that cannot be written into this note
            diagnostics.append(Diagnostic(note.relpath, 0, "error", f"cannot update properties: {exc}"))
            continue
        if new is not None:
            old = note.raw_text.encode("utf-8")
            changes.add(note.relpath, new, old, note.digest)
    return changes, diagnostics
