"""The parse cache behind a warm ``sync``: ``<vault>/.vaultlab/cache/notes-v1.pickle``.

Entries are keyed by relpath and validated by (size, mtime_ns); when only the mtime moved (a
``touch``, a sync tool, a checkout) the file's sha256 decides. The vault may be shared (git,
Obsidian Sync), so the file is untrusted: it holds plain data only, and the unpickler refuses any
class or function reference.
"""

from __future__ import annotations

import io
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

from .model import Diagnostic, Note, Section, SummaryField, Task

PARSER_VERSION = 5  # bump whenever parsing results change, so stale caches are ignored
CACHE_RELPATH = ".vaultlab/cache/notes-v1.pickle"

Entry = tuple[int, int, dict[str, Any]]  # (size, mtime_ns, note state without its path)


class _SafeUnpickler(pickle.Unpickler):
    """Loads only built-in containers and scalars: any class or function reference is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing {module}.{name} in the note cache")


def load(root: Path) -> dict[str, Entry]:
    try:
        data = (root / CACHE_RELPATH).read_bytes()
    except OSError:
        return {}
    try:
        payload = _SafeUnpickler(io.BytesIO(data)).load()
    except Exception:  # noqa: BLE001 - any damage means "no cache", never a failed sync
        return {}
    if not isinstance(payload, dict) or payload.get("version") != PARSER_VERSION:
        return {}
    entries = payload.get("entries")
    return entries if isinstance(entries, dict) else {}


def save(root: Path, entries: dict[str, Entry]) -> None:
    """Best effort: a cache that cannot be written only makes the next sync slower."""
    path = root / CACHE_RELPATH
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".notes.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                pickle.dump({"version": PARSER_VERSION, "entries": entries}, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError:
        pass


def note_state(note: Note) -> dict[str, Any]:
    """The note as plain data. Small records become tuples: pickling ~15 dataclass instances per
    note cost more than parsing it, and tuples load several times faster."""
    state = dict(note.__dict__)
    del state["path"]  # rebuilt from the vault root, which may have moved
    state["summary"] = [(f.label, f.key, f.value, f.line) for f in note.summary]
    state["progress_tasks"] = [(t.line, t.mark, t.text) for t in note.progress_tasks]
    state["diagnostics"] = [(d.path, d.line, d.severity, d.message, d.hint) for d in note.diagnostics]
    sections = state.get("_sections")
    if sections is not None:
        state["_sections"] = [(s.title, s.level, s.start, s.end) for s in sections]
    return state


def note_from_state(state: dict[str, Any], path: Path) -> Note:
    note = _new(Note)
    values = dict(state)
    values["path"] = path
    values["summary"] = [_record(SummaryField, {"label": a, "key": b, "value": c, "line": d})
                         for a, b, c, d in state["summary"]]
    values["progress_tasks"] = [_record(Task, {"line": a, "mark": b, "text": c}) for a, b, c in state["progress_tasks"]]
    values["diagnostics"] = [_record(Diagnostic, {"path": a, "line": b, "severity": c, "message": d, "hint": e})
                             for a, b, c, d, e in state["diagnostics"]]
    if state.get("_sections") is not None:
        values["_sections"] = [_record(Section, {"title": a, "level": b, "start": c, "end": d})
                               for a, b, c, d in state["_sections"]]
    _set_dict(note, values)
    return note


def _record(cls: type, fields: dict[str, Any]) -> Any:
    # Frozen dataclasses: install the field dict directly (what unpickling does), skipping the
    # per-field object.__setattr__ of the generated __init__.
    instance = _new(cls)
    _set_dict(instance, fields)
    return instance


_new = object.__new__
def _set_dict(obj: Any, values: dict[str, Any]) -> None:
    object.__setattr__(obj, "__dict__", values)
