"""Managed regions: ``%% vaultlab:begin NAME %%`` … ``%% vaultlab:end NAME %%``.

Like Zotero Integration's persist blocks, but the other way round: vaultlab owns what is *inside*
the markers and never touches anything outside them. The markers are Obsidian comments, so they
are invisible in reading view.
"""

from __future__ import annotations

import re

from .blocks import heading_key
from .lines import content, newline_of, split_lines
from .structure import note_lines

_MARKER = re.compile(r"\s*%%\s*vaultlab:(begin|end)\s+(\S+?)\s*%%\s*$")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*$")
_HEADING = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t#]*$")


class RegionError(ValueError):
    """Markers that cannot be edited safely (missing, repeated or out of order); nothing is written."""


def begin_marker(name: str) -> str:
    return f"%% vaultlab:begin {name} %%"


def end_marker(name: str) -> str:
    return f"%% vaultlab:end {name} %%"


def find_region(text: str, name: str) -> tuple[int, int] | None:
    """(begin line index, end line index), 0-based, or None; raises RegionError when malformed."""
    lines = split_lines(text)
    structure = note_lines(text)
    begins, ends = [], []
    for index, line in enumerate(lines):
        if "vaultlab:" not in line or not structure.marker_line(index):
            continue
        match = _MARKER.match(content(line))
        if match and match.group(2) == name:
            (begins if match.group(1) == "begin" else ends).append(index)
    if not begins and not ends:
        return None
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        where = ", ".join(f"begin at line {i + 1}" for i in begins) or "no begin marker"
        where += "; " + (", ".join(f"end at line {i + 1}" for i in ends) or "no end marker")
        raise RegionError(
            f"managed region {name!r} is malformed ({where}); fix the `%% vaultlab:begin/end {name} %%` "
            "markers by hand (one of each, begin first), or delete both to let vaultlab re-create it"
        )
    return begins[0], ends[0]


def replace_region(text: str, name: str, body: str, anchor: str | None = None) -> str:
    """Replace the inside of region ``name`` with ``body``, inserting the region when absent.

    A new region goes after the section of the heading titled ``anchor`` (when given and found),
    else at the end of the note, separated by one blank line.
    """
    if not _NAME.match(name):
        raise ValueError(f"invalid region name {name!r}")
    found = find_region(text, name)
    newline = newline_of(text)
    body_lines = [line.rstrip("\r") + newline for line in body.split("\n")] if body else []
    if body.endswith("\n"):
        body_lines.pop()
    lines = split_lines(text)
    if found is not None:
        begin, end = found
        lines[begin + 1 : end] = body_lines
        return "".join(lines)
    region = [begin_marker(name) + newline, *body_lines, end_marker(name) + newline]
    at = _anchor_insert_at(lines, anchor) if anchor else None
    if at is None:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += newline
            region[-1] = region[-1][: -len(newline)]  # keep the note's "no final newline"
        if lines and content(lines[-1]).strip():
            lines.append(newline)
        return "".join(lines + region)
    if not lines[at - 1].endswith("\n"):
        lines[at - 1] += newline
    after = [newline] if at < len(lines) and content(lines[at]).strip() else []
    return "".join(lines[:at] + [newline] + region + after + lines[at:])


def _anchor_insert_at(lines: list[str], anchor: str) -> int | None:
    """Index just past the last non-blank line of the section headed ``anchor``, or None."""
    wanted = heading_key(anchor)
    structure = note_lines("".join(lines))
    start = level = None
    for index, line in enumerate(lines):
        if not structure.readable(index):
            continue
        match = _HEADING.match(content(line))
        if not match:
            continue
        if start is None:
            if heading_key(match.group(2) or "") == wanted:
                start, level = index, len(match.group(1))
        elif len(match.group(1)) <= level:
            return _last_filled(lines, start, index)
    return None if start is None else _last_filled(lines, start, len(lines))


def _last_filled(lines: list[str], start: int, stop: int) -> int:
    for index in range(stop - 1, start, -1):
        if content(lines[index]).strip():
            return index + 1
    return start + 1
