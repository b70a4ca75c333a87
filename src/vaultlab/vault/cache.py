"""The parse cache behind a warm ``sync``: ``<vault>/.vaultlab/cache/notes-v1.pickle``.

Entries are keyed by relpath and validated by (size, mtime_ns); when only the mtime moved (a
``touch``, a sync tool, a checkout) the file's sha256 decides. The vault may be shared (git,
Obsidian Sync), so the file is untrusted: it is unpickled with an allow-list of plain types and
vaultlab's note dataclasses, never arbitrary classes.
"""

from __future__ import annotations

import io
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

from . import model
from .model import Note

PARSER_VERSION = 3  # bump whenever parsing results change, so stale caches are ignored
CACHE_RELPATH = ".vaultlab/cache/notes-v1.pickle"
_ALLOWED = {("vaultlab.vault.model", name) for name in ("Diagnostic", "SummaryField", "Task", "Section")}

Entry = tuple[int, int, dict[str, Any]]  # (size, mtime_ns, note state without its path)


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return getattr(model, name)
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
    state = dict(note.__dict__)
    del state["path"]  # rebuilt from the vault root, which may have moved
    return state


def note_from_state(state: dict[str, Any], path: Path, _new=object.__new__) -> Note:
    note = _new(Note)
    note.__dict__.update(state)
    note.__dict__["path"] = path
    return note
