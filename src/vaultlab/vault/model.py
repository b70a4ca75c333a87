"""What vaultlab reads out of one note. Pure data; the parser in ``vault.note`` fills it.

Line numbers are 1-based lines of the file as the user sees it in an editor (the frontmatter's
opening ``---`` is line 1), so every diagnostic can say ``path:line``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from .blocks import Rows, sections_of


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in the vault: ``path:line: message`` plus what to do about it."""

    path: str  # vault-relative, '/'-separated
    line: int  # 1-based; 0 when the problem is the whole file
    severity: str  # "error" (file not usable / not written) | "warning" | "info" (noted, nothing wrong)
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        tail = f" — {self.hint}" if self.hint else ""
        return f"{where}: {self.severity}: {self.message}{tail}"


@dataclass(frozen=True)
class SummaryField:
    """One ``**Label:** value`` line of the Quick Summary."""

    label: str  # as written, e.g. "Backbone"
    key: str  # normalised: lower-case, spaces → "_", e.g. "backbone", "static/dynamic" → "static_dynamic"
    value: str  # raw text after the colon, stripped
    line: int  # 1-based

    @property
    def items(self) -> list[str]:
        """The listed values, stripped, empties dropped: separated by commas, semicolons or a word "and"
        / "&" ("MMD loss , Paired Similarity" → 2 items, "CE loss and triplet loss" → 2), never inside
        brackets ("ResNet-50 (ImageNet, pre-trained)" stays one item)."""
        return [part.strip() for part in _split_list(self.value) if part.strip()]


_LIST_SEPARATOR = re.compile(r"[,;]|\s+(?:and|&)\s+", re.IGNORECASE)


def _split_list(text: str) -> list[str]:
    if "(" not in text and "[" not in text and "{" not in text:  # no brackets (most values): one regex split
        return _LIST_SEPARATOR.split(text)
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}" and depth > 0
        if depth == 0 and i >= start and (match := _LIST_SEPARATOR.match(text, i)):
            parts.append(text[start:i])
            start = match.end()
    parts.append(text[start:])
    return parts


@dataclass(frozen=True)
class Task:
    line: int  # 1-based
    mark: str  # the character inside the brackets
    text: str

    @property
    def checked(self) -> bool:
        # Obsidian: any character but a space marks a task as done.
        return self.mark != " "


@dataclass(frozen=True)
class Section:
    title: str
    level: int
    start: int  # 1-based line of the heading (or label line)
    end: int  # 1-based last line (inclusive)


@dataclass
class Note:
    path: Path  # absolute
    relpath: str  # vault-relative, '/'-separated
    text: str  # decoded text, BOM removed, line endings as in the file
    digest: str  # sha256 of the raw bytes as read (for conflict detection)
    frontmatter: dict[str, Any] = field(default_factory=dict)  # YAML 1.2 values
    frontmatter_lines: dict[str, int] = field(default_factory=dict)  # key → 1-based line
    has_frontmatter: bool = False
    title: str = ""  # first H1, else the file stem
    summary: list[SummaryField] = field(default_factory=list)
    progress_tasks: list[Task] = field(default_factory=list)  # Reading Progress tasks only
    sections: list[Section] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    is_paper: bool = False
    # Added by vault.note: how the file is spelled on disk, so edits can keep it byte-exact.
    bom: bool = False  # the raw bytes start with a UTF-8 byte-order mark (not part of ``text``)
    newline: str = "\n"  # the file's line ending: "\n" or "\r\n" (the first one seen)
    frontmatter_end: int = 0  # 1-based line of the closing ``---``; 0 without frontmatter
    progress_line: int = 0  # 1-based line of the Reading Progress label or heading; 0 if none

    @property
    def stem(self) -> str:
        """The file name without its suffix (``Path.stem``, without building it from ``path``)."""
        name = self.relpath.rpartition("/")[2] if self.relpath else self.path.name
        dot = name.rfind(".")
        return name[:dot] if 0 < dot < len(name) - 1 else name

    def summary_field(self, key: str) -> SummaryField | None:
        for f in self.summary:
            if f.key == key:
                return f
        return None

    @property
    def progress(self) -> int | None:
        """0–100 from the Reading Progress tasks; None when the note has none."""
        marks = task_marks(self)
        if not marks:
            return None
        done = sum(mark != " " for mark in marks)
        return round(100 * done / len(marks))

    @property
    def raw_text(self) -> str:
        """The text exactly as stored (BOM included), which edits operate on."""
        return "\ufeff" + self.text if self.bom else self.text

    @property
    def usable(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)


class Peers(Sequence):
    """The other members' ids of a group of notes on one paper: a view over the group's one list, so a
    group of n notes costs n, not n² (a vault that repeats one title 2,000 times). Compares equal to
    the list of those ids; ``list(peers)`` for JSON."""

    __slots__ = ("group", "me")

    def __init__(self, group: list[str], me: str) -> None:
        self.group, self.me = group, me

    def __iter__(self) -> Iterator[str]:
        return (other for other in self.group if other != self.me)

    def __len__(self) -> int:
        return len(self.group) - 1

    def __getitem__(self, index):  # noqa: ANN001, ANN204 - int or slice, as list's
        if isinstance(index, slice) and index.step in (None, 1) and (index.start or 0) >= 0 and (index.stop or 0) >= 0:
            return list(islice(self, index.start or 0, index.stop if index.stop is not None else len(self)))
        return list(self)[index]

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, (list, tuple, Peers)) else NotImplemented

    def __repr__(self) -> str:
        return repr(list(self))


class _BuiltOnFirstUse:
    """A ``Note`` list field that may be stored unbuilt and is built the first time it is read.

    Speed, measured on a 10,000-note vault: building ~40 ``Section`` objects per note was the largest
    share of a cold sync, and rebuilding the Quick Summary and task records from the cache was the
    largest share of a warm one, while most commands read neither. Setting the field (the dataclass
    ``__init__``, callers) works as before.
    """

    def __init__(self, name: str, record: type, compute: bool = False) -> None:
        self.key = "_" + name
        self.record = record
        self.compute = compute  # None means "not computed yet" (sections: built from the text)

    def __get__(self, note: Note | None, owner: type | None = None):  # noqa: ANN204
        if note is None:
            return self
        value = note.__dict__.get(self.key)
        if value is None and self.compute:
            value = sections_of(note.text, *note.__dict__.get("_body", (0, 0)))
        if type(value) is Rows:
            value = note.__dict__[self.key] = [_record(self.record, row) for row in value]
        return value

    def __set__(self, note: Note, value: list | None) -> None:
        note.__dict__[self.key] = value


def _record(cls: type, row: tuple) -> Any:
    # Frozen dataclasses: install the field dict directly (as unpickling does) instead of paying
    # the generated __init__'s object.__setattr__ per field.
    instance = object.__new__(cls)
    object.__setattr__(instance, "__dict__", dict(zip(cls.__dataclass_fields__, row)))
    return instance


def task_marks(note: Note) -> list[str]:
    """The Reading Progress check marks, without building Task objects when they are still rows."""
    tasks = note.__dict__.get("_progress_tasks")
    if type(tasks) is Rows:
        return [row[1] for row in tasks]
    return [task.mark for task in note.progress_tasks]


Note.sections = _BuiltOnFirstUse("sections", Section, compute=True)  # type: ignore[assignment]
Note.summary = _BuiltOnFirstUse("summary", SummaryField)  # type: ignore[assignment]
Note.progress_tasks = _BuiltOnFirstUse("progress_tasks", Task)  # type: ignore[assignment]
