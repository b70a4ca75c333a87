"""What vaultlab reads out of one note. Pure data; the parser in ``vault.note`` fills it.

Line numbers are 1-based lines of the file as the user sees it in an editor (the frontmatter's
opening ``---`` is line 1), so every diagnostic can say ``path:line``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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
        """Comma-separated values, stripped, empties dropped ("MMD loss , Paired Similarity" → 2 items)."""
        return [part.strip() for part in self.value.split(",") if part.strip()]


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
        return self.path.stem

    def summary_field(self, key: str) -> SummaryField | None:
        for f in self.summary:
            if f.key == key:
                return f
        return None

    @property
    def progress(self) -> int | None:
        """0–100 from the Reading Progress tasks; None when the note has none."""
        if not self.progress_tasks:
            return None
        done = sum(t.checked for t in self.progress_tasks)
        return round(100 * done / len(self.progress_tasks))

    @property
    def raw_text(self) -> str:
        """The text exactly as stored (BOM included), which edits operate on."""
        return "\ufeff" + self.text if self.bom else self.text

    @property
    def usable(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)


class _SectionsOnFirstUse:
    """``Note.sections``, computed from the text the first time someone asks.

    Most commands never look at sections, and building ~40 ``Section`` objects per note was the
    largest share of sync's parse time. The parser stores ``_sections = None`` plus where the body starts;
    anything else (the dataclass ``__init__``, callers) sets the list as before.
    """

    def __get__(self, note: Note | None, owner: type | None = None):  # noqa: ANN204
        if note is None:
            return self
        sections = note.__dict__.get("_sections")
        if sections is None:
            from .blocks import sections_of  # local: blocks imports this module

            body = note.__dict__.get("_body", (0, 0))  # (text offset, lines before it)
            sections = note.__dict__["_sections"] = sections_of(note.text, *body)
        return sections

    def __set__(self, note: Note, value: list[Section] | None) -> None:
        note.__dict__["_sections"] = value


Note.sections = _SectionsOnFirstUse()  # type: ignore[assignment]
