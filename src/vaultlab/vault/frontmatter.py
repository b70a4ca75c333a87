"""Where the frontmatter block sits in a note's text (Obsidian: only at the very top, between ``---``)."""

from __future__ import annotations

from typing import NamedTuple


class FrontmatterSpan(NamedTuple):
    """Offsets into the text (BOM already removed or skipped by ``offset``)."""

    yaml_start: int  # first character after the opening ``---`` line
    close_start: int  # first character of the closing ``---`` line
    close_end: int  # just past the closing line's newline (or the end of the text)


def find_frontmatter(text: str, offset: int = 0) -> FrontmatterSpan | None:
    """The frontmatter span when ``text[offset:]`` opens with a ``---`` line that is closed later."""
    first_newline = text.find("\n", offset)
    if first_newline < 0 or text[offset:first_newline].rstrip() != "---":
        return None
    close = closing_fence(text, first_newline)
    if close < 0:
        return None
    eol = text.find("\n", close)
    return FrontmatterSpan(first_newline + 1, close, len(text) if eol < 0 else eol + 1)


def opens_frontmatter(text: str, offset: int = 0) -> bool:
    first_newline = text.find("\n", offset)
    return first_newline >= 0 and text[offset:first_newline].rstrip() == "---"


def closing_fence(text: str, newline: int) -> int:
    """Offset of the first ``---`` line after the newline at ``newline``, or -1."""
    while True:
        found = text.find("\n---", newline)
        if found < 0:
            return -1
        eol = text.find("\n", found + 4)
        if not text[found + 4 : len(text) if eol < 0 else eol].strip(" \t\r"):
            return found + 1
        newline = found + 1
