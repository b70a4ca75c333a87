"""One scan of a note's structure: which parts Markdown hides, shared by the reader and every editor.

Hidden: fenced code blocks and ``%% … %%`` comments (an unclosed one runs to the end of the note,
as Obsidian renders it). Marked: callouts (``> [!type]`` and the quoted lines under it). The reader
(``blocks``) asks ``Masks.hidden(offset)``; the editors (``regions``, ``tables``) ask
``NoteLines`` which 0-based lines of the whole note are hidden or in a callout. A Results table
or a task inside a comment or code block is neither read nor written; a region marker counts
unless it is inside a fenced code block.

Offsets follow ``blocks``' convention: ``doc = "\\n" + body``, where body is the text after the
frontmatter, so every line starts right after a ``"\\n"``.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field

from .frontmatter import find_frontmatter

# A fence marker at a line start (inside callouts too), or a %% anywhere.
_HIDERS = re.compile(r"\n[ \t]*(?:>[ \t]?)*(`{3,}|~{3,})|%%")
_CALLOUT = re.compile(r"\n[ \t]{0,3}>[ \t]*\[![^\]\r\n]+\][^\r\n]*(?:\n[ \t]{0,3}>[^\r\n]*)*")


class Masks:
    """Spans of ``doc`` hidden from Markdown: fenced code and ``%%`` comments.

    ``spans`` are (start, end) offsets; ``kinds`` says "code" or "comment" for each, ``closed``
    whether its closing marker was found (an unclosed span runs to the end of the note)."""

    def __init__(self, doc: str, start: int = 0) -> None:
        self.spans: list[tuple[int, int]] = []
        self.kinds: list[str] = []
        self.closed: list[bool] = []
        # The common case, nothing hidden. Single-character tests: CPython finds one character with
        # memchr, but scans for short multi-character needles ("%%") a character at a time.
        if "%" not in doc and "`" not in doc and "~" not in doc:
            self._starts: list[int] = []
            return
        spans, kinds, closed = self.spans, self.kinds, self.closed
        state: tuple | None = None  # ("fence", char, length, start) | ("comment", start)
        skip_until = -1
        for match in _HIDERS.finditer(doc, start):
            marker = match.group(1)
            if marker:
                eol = doc.find("\n", match.end())
                eol = len(doc) if eol < 0 else eol
                rest = doc[match.end() : eol]
                if state is None:
                    if marker[0] == "`" and "`" in rest:
                        continue  # inline code such as ```x```, not a fence
                    state = ("fence", marker[0], len(marker), match.start() + 1)
                    skip_until = eol
                elif state[0] == "fence" and marker[0] == state[1] and len(marker) >= state[2] and not rest.strip():
                    spans.append((state[3], eol))
                    kinds.append("code")
                    closed.append(True)
                    state = None
                continue
            pos = match.start()
            if pos < skip_until or (state is not None and state[0] == "fence"):
                continue
            if state is None:
                line_start = doc.rfind("\n", 0, pos) + 1
                if doc.count("`", line_start, pos) % 2:
                    continue  # `%%` inside inline code
                state = ("comment", pos)
            else:
                spans.append((state[1], match.end()))
                kinds.append("comment")
                closed.append(True)
                state = None
        if state is not None:
            spans.append((state[-1], len(doc)))
            kinds.append("code" if state[0] == "fence" else "comment")
            closed.append(False)
        self._starts = [s for s, _ in spans]

    def hidden(self, pos: int) -> bool:
        if not self.spans:
            return False
        i = bisect_right(self._starts, pos) - 1
        return i >= 0 and pos < self.spans[i][1]


def callouts(doc: str, start: int = 0) -> list[tuple[int, int]]:
    """(start, end) offsets of callout blocks: a ``> [!type]`` line and the quoted lines under it."""
    if "[!" not in doc:
        return []
    return [(m.start() + 1, m.end()) for m in _CALLOUT.finditer(doc, start)]


@dataclass
class NoteLines:
    """The structure of a whole note by 0-based line index (frontmatter lines included in the count)."""

    hidden: set[int] = field(default_factory=set)  # lines inside code or a comment (an unclosed one runs to the end)
    code: set[int] = field(default_factory=set)  # lines of closed fenced code blocks
    callout: set[int] = field(default_factory=set)  # lines of a callout block

    def readable(self, index: int) -> bool:
        """Neither hidden nor in a callout: where a Results table or a heading counts."""
        return index not in self.hidden and index not in self.callout

    def marker_line(self, index: int) -> bool:
        """Where a managed-region marker (itself a ``%%`` comment) counts: anywhere but closed code.
        Comments do not hide markers — ``%%`` pairs around them are ambiguous — and neither does a
        fence left open at the end: a region vaultlab appended after it must still be found next
        time, or every sync would append another."""
        return index not in self.code


def note_lines(text: str) -> NoteLines:
    """Scan ``text`` (a whole note, BOM allowed) once; the frontmatter is not Markdown and is skipped."""
    offset = 1 if text.startswith("\ufeff") else 0
    span = find_frontmatter(text, offset)
    body_start = span.close_end if span is not None else offset
    line0 = text.count("\n", 0, body_start)
    doc = "\n" + text[body_start:]
    masks = Masks(doc)
    result = NoteLines()
    if not masks.spans and "[!" not in doc:
        return result
    newlines = _newlines(doc)

    def lines_of(start: int, end: int) -> range:  # doc offsets → 0-based note lines
        return range(line0 + bisect_right(newlines, start) - 1, line0 + bisect_right(newlines, max(start, end - 1)))

    for (start, end), kind, closed in zip(masks.spans, masks.kinds, masks.closed):
        result.hidden.update(lines_of(start, end))
        if kind == "code" and closed:
            result.code.update(lines_of(start, end))
    for start, end in callouts(doc):
        result.callout.update(lines_of(start, end))
    return result


def _newlines(doc: str) -> list[int]:
    found, pos = [], doc.find("\n")
    while pos >= 0:
        found.append(pos)
        pos = doc.find("\n", pos + 1)
    return found
