"""A line scanner for the parts of Obsidian Markdown vaultlab reads.

markdown-it-py does not know ``%% … %%`` comments, Obsidian's any-character task boxes or wikilinks,
and running it over every note costs more than the whole sync budget. Instead we find the few
things we need with whole-text regular expressions (C speed); what hides text (fenced code blocks
and ``%%`` comments) comes from the one structure scan, ``structure.Masks``, which the editors share.

Convention: functions work on ``doc = "\\n" + body``, where ``body`` is the note's text after its
frontmatter and ``line0`` the number of lines before it. Every line then starts right after a
``"\\n"``, so patterns can begin with that literal (which lets ``re`` skip ahead with a fast search
instead of trying every position), and the 1-based file line of the line starting at offset ``p``
is ``line0 + doc.count("\\n", 0, p)``. Slicing the body off also matters for speed: a body without
non-ASCII characters becomes a 1-byte-per-character string even when the frontmatter has emoji.
``start`` is where scanning begins (0: the whole body).
"""

from __future__ import annotations

import posixpath
import re
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import unquote

from .structure import Masks

__all__ = ["Masks", "Rows"]  # the reader's hidden spans come from the one structure scan


class Rows(tuple):
    """Records kept as plain tuples (from the parser or the parse cache) until someone reads the
    field; ``model.Note`` turns them into ``Section``/``SummaryField``/``Task`` on first use."""

_HEADING = re.compile(r"\n {0,3}(#{1,6})([ \t][^\r\n]*)?(?=[\r\n]|\Z)")
_CLOSING_HASHES = re.compile(r"(?:^|[ \t]+)#+$")
_WIKILINK = re.compile(r"\[\[([^\[\]|#^\r\n]*\.\.[^\[\]|#^\r\n]*)")
_MDLINK = re.compile(r"\]\(\s*<?([^)\s>]*\.\.[^)\s>]*)")
_DOTDOT = re.compile(r"\.\.")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_NON_WORD = re.compile(r"[\W_]+")


@lru_cache(maxsize=1024)
def normalise_label(label: str) -> str:
    """"Static/Dynamic" → "static_dynamic": the key a Quick Summary label is looked up by."""
    return _NON_WORD.sub("_", label.casefold()).strip("_")


def heading_key(title: str) -> str:
    """"Quick Summary:" / "quick  summary" → "quick summary"."""
    key = title.casefold()
    return key if key.isalnum() else " ".join(_NON_WORD.sub(" ", key).split())


class Heading(NamedTuple):
    line: int
    level: int
    title: str
    pos: int  # doc offset of the heading line's first character
    end_pos: int  # doc offset of the newline ending the heading line (or len(doc))


def find_headings(doc: str, start: int, masks: Masks, line0: int = 0) -> list[Heading]:
    headings = []
    count = doc.count
    last_pos, line = 0, line0
    hidden = masks.hidden if masks.spans else None
    for match in _HEADING.finditer(doc, start):
        pos = match.start() + 1
        if hidden is not None and hidden(pos):
            continue
        title = (match.group(2) or "").strip()
        if title.endswith("#"):
            title = _CLOSING_HASHES.sub("", title).strip()
        line += count("\n", last_pos, pos)
        last_pos = pos
        eol = doc.find("\n", match.end())
        headings.append(Heading(line, len(match.group(1)), title, pos, len(doc) if eol < 0 else eol))
    return headings


def sections_from(headings: list[Heading], last_line: int) -> Rows:
    """Each heading's range runs to the line before the next heading of the same or higher level."""
    ends = [last_line] * len(headings)
    open_stack: list[int] = []  # headings whose section is still open
    for i, heading in enumerate(headings):
        while open_stack and headings[open_stack[-1]].level >= heading.level:
            ends[open_stack.pop()] = heading.line - 1
        open_stack.append(i)
    return Rows((h.title, h.level, h.line, end) for h, end in zip(headings, ends))  # Section rows


def sections_of(text: str, body_offset: int, line0: int) -> Rows:
    """All heading sections of a note whose body starts at ``text[body_offset]``, on line ``line0 + 1``."""
    doc = "\n" + text[body_offset:]
    masks = Masks(doc, 0)
    last_line = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    return sections_from(find_headings(doc, 0, masks, line0), last_line)


def _titled(words: str) -> re.Pattern:
    """A heading whose title is ``words`` once case, emoji and punctuation are ignored."""
    body = r"[^\w\r\n]+".join(words.split())
    return re.compile(rf"\n {{0,3}}(#{{1,6}})[ \t]+[^\w\r\n]*{body}[^\w\r\n]*(?=[\r\n]|\Z)", re.I)


_QUICK_SUMMARY = _titled("quick summary")
# The Reading Progress heading or **Reading Progress:** label line, whichever comes first.
_READING_PROGRESS = re.compile(
    r"\n(?: {0,3}(#{1,6})[ \t]+[^\w\r\n]*reading[^\w\r\n]+progress[^\w\r\n]*(?=[\r\n]|\Z)"
    r"|[ \t]*(?:[-*+][ \t]+)?\*\*[ \t]*reading[ \t]+progress[ \t]*(?::\*\*|\*\*[ \t]*:))",
    re.I,
)
_H1 = re.compile(r"\n {0,3}#[ \t]+([^\r\n]*)")


def _first_heading(doc: str, pattern: re.Pattern, start: int, masks: Masks) -> re.Match | None:
    for match in pattern.finditer(doc, start):
        if not masks.hidden(match.start() + 1):
            return match
    return None


def _first_line_with(doc: str, lowered: str, word: str, pattern: re.Pattern, start: int, masks: Masks) -> re.Match | None:
    """Like _first_heading, but only tries ``pattern`` on lines containing ``word`` (lower-case).

    Scanning a note line by line with a case-insensitive pattern cost more than the rest of its
    body; ``str.find`` on the lower-cased text skips straight to the few candidate lines.
    """
    pos = lowered.find(word, start)
    while pos >= 0:
        line_start = doc.rfind("\n", 0, pos)
        match = pattern.match(doc, line_start)
        if match is not None and not masks.hidden(line_start + 1):
            return match
        eol = doc.find("\n", pos)
        if eol < 0:
            return None
        pos = lowered.find(word, eol)
    return None


def _section_end(doc: str, after: int, masks: Masks, level: int = 6) -> int:
    """Doc offset of the newline before the next heading of ``level`` or higher after ``after``."""
    for match in _HEADING.finditer(doc, after):
        if len(match.group(1)) <= level and not masks.hidden(match.start() + 1):
            return match.start()
    return len(doc)


def title(doc: str, start: int, masks: Masks) -> str:
    """The first H1's text, or "" when there is none."""
    match = _first_heading(doc, _H1, start, masks)
    if match is None:
        return ""
    text = match.group(1).strip()
    return _CLOSING_HASHES.sub("", text).strip() if text.endswith("#") else text


def _eol(doc: str, pos: int) -> int:
    eol = doc.find("\n", pos)
    return len(doc) if eol < 0 else eol


_LABEL_LINE = re.compile(r"\n[ \t]*(?:[-*+][ \t]+)?\*\*([^*\r\n]+?)(?::\*\*|\*\*[ \t]*:)([^\r\n]*)")
_BLANK_LINE = re.compile(r"\n[ \t]*\r?(?=\n|\Z)")
_TASK_LINE = re.compile(r"\n[ \t]*(?:[-*+]|\d+[.)])[ \t]+\[([^\r\n])\][ \t]?([^\r\n]*)")
# A line that ends a list: not indented, not a list item, not blank.
_LIST_END = re.compile(r"\n(?![ \t]|[-*+](?:[ \t]|\r?\n|\r?\Z)|\d+[.)](?:[ \t]|\r?\n|\r?\Z)|\r?\n|\r?\Z)")


def quick_summary(doc: str, lowered: str, start: int, masks: Masks, line0: int = 0) -> tuple[bool, Rows]:
    """(has a Quick Summary heading, its ``**Label:** value`` fields as SummaryField rows)."""
    heading = _first_line_with(doc, lowered, "summary", _QUICK_SUMMARY, start, masks)
    if heading is None:
        return False, Rows()
    head_end = _eol(doc, heading.start() + 1)
    end = _section_end(doc, head_end, masks)
    rows = []
    stop = end
    line, counted = line0 + doc.count("\n", 0, head_end), head_end
    for match in _LABEL_LINE.finditer(doc, head_end, end):
        pos = match.start()
        if pos >= stop:
            break
        if masks.hidden(pos + 1):
            continue
        label = match.group(1).strip()
        key = normalise_label(label)
        if key == "reading_progress":
            break  # a Reading Progress block right under the summary is not part of it
        if not rows:  # the summary is one block: the first blank line after it ends it
            blank = _BLANK_LINE.search(doc, match.end(), end)
            stop = blank.start() if blank else end
        line, counted = line + doc.count("\n", counted, pos + 1), pos + 1
        rows.append((label, key, match.group(2).strip(), line))
    return True, Rows(rows)


def reading_progress(doc: str, lowered: str, start: int, masks: Masks, line0: int = 0) -> tuple[int, Rows]:
    """(line of the Reading Progress label or heading, or 0; the tasks of its list as Task rows)."""
    found = _first_line_with(doc, lowered, "progress", _READING_PROGRESS, start, masks)
    if found is None:
        return 0, Rows()
    anchor_pos = found.start() + 1
    anchor = line0 + doc.count("\n", 0, anchor_pos)
    head_end = _eol(doc, anchor_pos)
    level = len(found.group(1)) if found.group(1) else 6  # a label's list runs to any heading
    end = _section_end(doc, head_end, masks, level=level)
    first = next((m for m in _TASK_LINE.finditer(doc, head_end, end) if not masks.hidden(m.start() + 1)), None)
    if first is None:
        return anchor, Rows()
    label = _LABEL_LINE.search(doc, head_end, first.start())
    if label is not None and not masks.hidden(label.start() + 1):
        return anchor, Rows()  # the tasks belong to the next labelled block
    list_end = next((m.start() for m in _LIST_END.finditer(doc, first.end(), end) if not masks.hidden(m.start() + 1)), end)
    rows = []
    line, counted = anchor, anchor_pos
    for match in _TASK_LINE.finditer(doc, first.start(), list_end):
        if masks.spans and masks.hidden(match.start() + 1):
            continue
        text = match.group(2).strip()
        if text:  # template placeholders such as "- [ ] " are not tasks
            line, counted = line + doc.count("\n", counted, match.start() + 1), match.start() + 1
            rows.append((line, match.group(1), text))
    return anchor, Rows(rows)


def links_leaving_vault(doc: str, start: int, relpath: str, masks: Masks, line0: int = 0) -> list[tuple[int, str]]:
    """(line, target) for wikilinks and Markdown links whose target resolves outside the vault."""
    if _DOTDOT.search(doc, start) is None:  # faster than `".." in doc` (see Masks)
        return []
    folder = posixpath.dirname(relpath)
    found = []
    for pattern, is_wikilink in ((_WIKILINK, True), (_MDLINK, False)):
        for match in pattern.finditer(doc, start):
            if masks.hidden(match.start()):
                continue
            target = match.group(1).strip()
            if is_wikilink:
                base = folder if target.startswith(("./", "../")) else ""
            else:
                if _SCHEME.match(target):
                    continue
                target = unquote(target)
                base = "" if target.startswith("/") else folder
            resolved = posixpath.normpath(posixpath.join(base, target.lstrip("/")))
            if resolved == ".." or resolved.startswith("../"):
                found.append((line0 + doc.count("\n", 0, match.start()), match.group(1)))
    found.sort()
    return found
