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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .blocks import Rows
from .model import Diagnostic, Note, _record

PARSER_VERSION = 10  # bump whenever parsing results change, so stale caches are ignored
CACHE_RELPATH = ".vaultlab/cache/notes-v1.pickle"

Entry = tuple[int, int, dict[str, Any]]  # (size, mtime_ns, note state without its path)


class _SafeUnpickler(pickle.Unpickler):
    """Loads only built-in containers and scalars: any class or function reference is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing {module}.{name} in a vaultlab cache")


_batches: dict[str, dict[str, Entry] | None] = {}  # vault root → entries to write when its batch ends


@contextmanager
def batched(root: Path) -> Iterator[None]:
    """Within the block, ``save`` keeps the entries in memory and ``load`` returns them; the last
    ones are written once at the end. A sync that writes notes saves the cache once, not twice
    (after reading the notes, then after writing them): a 10,000-note cache is tens of MB."""
    key = os.fspath(root)
    _batches[key] = None
    try:
        yield
    finally:
        entries = _batches.pop(key, None)
        if entries is not None:
            _write(Path(root), entries)


def read_plain(path: Path) -> Any:
    """The plain data pickled in ``path``; None when it is missing, damaged or names any class."""
    try:
        return _SafeUnpickler(io.BytesIO(path.read_bytes())).load()
    except Exception:  # noqa: BLE001 - any damage means "no cache", never a failed sync
        return None


def write_plain(path: Path, payload: Any) -> None:
    """Pickle ``payload`` to ``path`` atomically; best effort (a cache that cannot be written only
    makes the next sync slower)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                pickle.dump(payload, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError:
        pass


def load(root: Path) -> dict[str, Entry]:
    pending = _batches.get(os.fspath(root))
    if pending is not None:
        return pending
    payload = read_plain(root / CACHE_RELPATH)
    if not isinstance(payload, dict) or payload.get("version") != PARSER_VERSION:
        return {}
    entries = payload.get("entries")
    return entries if isinstance(entries, dict) else {}


def save(root: Path, entries: dict[str, Entry]) -> None:
    """Best effort: a cache that cannot be written only makes the next sync slower."""
    key = os.fspath(root)
    if key in _batches:
        _batches[key] = entries
        return
    _write(root, entries)


def _write(root: Path, entries: dict[str, Entry]) -> None:
    write_plain(root / CACHE_RELPATH, {"version": PARSER_VERSION, "entries": entries})


def note_state(note: Note) -> dict[str, Any]:
    """The note as plain data: records become tuples (several times faster to pickle and load)."""
    state = dict(note.__dict__)
    del state["path"]  # rebuilt from the vault root, which may have moved
    for key in ("_summary", "_progress_tasks", "_sections", "diagnostics"):
        records = state.get(key)
        if type(records) is Rows:
            state[key] = list(records)  # a plain list: the cache must hold no classes of ours
        elif records is not None:
            state[key] = [_fields_of(r) for r in records]
    return state


def _fields_of(record: Any) -> tuple:
    # Every constructor of these records (dataclass __init__, model._record) fills the instance
    # dict in field order, so its values are the row.
    return tuple(record.__dict__.values())


def note_from_state(state: dict[str, Any], path: Path) -> Note:
    """A Note from ``note_state``; its summary, tasks and sections are built only when read."""
    values = dict(state)
    values["path"] = path
    for key in ("_summary", "_progress_tasks", "_sections"):
        if values.get(key) is not None:
            values[key] = Rows(values[key])
    values["diagnostics"] = [_record(Diagnostic, row) for row in values["diagnostics"]]
    note = object.__new__(Note)
    object.__setattr__(note, "__dict__", values)
    return note
