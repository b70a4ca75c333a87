"""Text repair (mojibake) and the reading-state vocabulary of ``status`` values."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

READING_STATES = ("to_read", "reading", "read")

# Words people (and paper-note templates) use for each state; the vault's own labels from
# `.vaultlab/config.yaml` `status_values` are added to these at call time.
_STATE_WORDS = {
    "to_read": {"to read", "toread", "to-read", "unread", "not read", "want to read", "queued", "todo", "to do"},
    "reading": {"reading", "in progress", "in-progress", "started", "currently reading"},
    "read": {"read", "done", "finished", "completed", "complete"},
}
_LEADING_SYMBOLS = re.compile(r"^[\W_]+", re.UNICODE)


def looks_garbled(value: str) -> bool:
    """True when ``value`` is UTF-8 text that was decoded as cp1252/latin-1 somewhere ("ðŸ“š")."""
    if value.isascii():  # mojibake always contains non-ASCII characters; skip the common case
        return False
    return _fixed(value) != value


@lru_cache(maxsize=4096)
def _fixed(value: str) -> str:
    # The same few values (status labels) repeat across a vault; ftfy is slow enough to cache, and
    # slow to import (a sixth of a warm sync): only a note with non-ASCII values loads it.
    import ftfy

    return ftfy.fix_encoding(value)


def repair_text(value: str) -> str:
    """Undo mojibake only ("ðŸ“š To Read" → "📚 To Read"); quotes, dashes, spacing stay as written."""
    if value.isascii():
        return value
    return _fixed(value)


def split_symbol_prefix(value: str) -> tuple[str, str]:
    """("📚 ", "To Read") from "📚 To Read": the emoji/symbol prefix and the words after it."""
    match = _LEADING_SYMBOLS.match(value)
    if not match:
        return "", value
    return value[: match.end()], value[match.end() :]


def reading_state(status_value: object, status_values: Mapping[str, str] | None = None) -> str | None:
    """'to_read' | 'reading' | 'read' for a ``status`` value, mojibake and emoji tolerated; else None."""
    if not isinstance(status_value, str):
        return None
    return _reading_state(status_value, tuple(status_values.items()) if status_values else ())


@lru_cache(maxsize=1024)
def _reading_state(status_value: str, status_values: tuple[tuple[str, str], ...]) -> str | None:
    # A vault uses a handful of status values thousands of times; compute each once.
    words = split_symbol_prefix(repair_text(status_value).strip())[1].strip().casefold()
    words = " ".join(words.split())
    if not words:
        return None
    for state, label in status_values:
        if state in READING_STATES and split_symbol_prefix(label.strip())[1].strip().casefold() == words:
            return state
    for state in READING_STATES:
        if words in _STATE_WORDS[state]:
            return state
    return None
