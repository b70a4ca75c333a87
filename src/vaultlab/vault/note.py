"""Bytes of one ``.md`` file → ``Note`` (frontmatter, sections, Quick Summary, reading progress).

Pure: ``parse_note_bytes`` does no I/O; ``read_note`` is the thin file-reading edge. Problems become
``Diagnostic``s naming ``path:line``; nothing here raises on bad input.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from . import blocks
from .frontmatter import find_frontmatter, opens_frontmatter
from .blocks import Rows
from .model import Diagnostic, Note, _BuiltOnFirstUse
from .structure import Masks
from .text import looks_garbled
from .yaml12 import KeyLines, YamlError, load_mapping

UTF8_BOM = b"\xef\xbb\xbf"
FIX_TEXT_HINT = "run `vaultlab sync --fix-text` to repair it"


def read_note(path: Path, root: Path) -> Note:
    """Read and parse one note file (the only I/O in this module)."""
    relpath = path.relative_to(root).as_posix()
    return parse_note_bytes(path.read_bytes(), path, relpath)


def _note_maker():
    """A fast ``Note(...)``: the dataclass __init__ (17 fields, 3 descriptors) showed up in profiles."""
    defaults, factories = {}, []
    for item in fields(Note):
        key = "_" + item.name if isinstance(Note.__dict__.get(item.name), _BuiltOnFirstUse) else item.name
        if item.default is not MISSING:
            defaults[key] = item.default
        elif item.default_factory is not MISSING:
            factories.append((key, item.default_factory))

    def make(**values: Any) -> Note:
        state = dict(defaults)
        for key, factory in factories:
            state[key] = factory()
        state.update(values)
        note = object.__new__(Note)
        note.__dict__.update(state)
        return note

    return make


_new_note = _note_maker()


def parse_note_bytes(raw: bytes, path: Path, relpath: str, *, same_body_as: Note | None = None) -> Note:
    """Parse one note. ``same_body_as``: an earlier parse of this note; when the body after the
    frontmatter is unchanged (vaultlab's property edits touch only the frontmatter) its results
    are reused, line numbers shifted, instead of scanning the body again."""
    note = _new_note(path=path, relpath=relpath, text="", digest=hashlib.sha256(raw).hexdigest())
    diags = note.diagnostics

    def report(line: int, severity: str, message: str, hint: str = "") -> None:
        diags.append(Diagnostic(relpath, line, severity, message, hint))

    note.bom = raw.startswith(UTF8_BOM)
    body = raw[3:] if note.bom else raw
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body.count(b"\n", 0, exc.start) + 1
        note.text = body.decode("utf-8", "replace")
        note.title = path.stem
        report(line, "error", f"not valid UTF-8 (byte 0x{body[exc.start]:02x})",
               "re-save the file with UTF-8 encoding; vaultlab will not touch it until then")
        return note
    note.text = text
    if note.bom:
        report(1, "info", "file starts with a UTF-8 byte-order mark (kept as is)")
    first_newline = text.find("\n")
    if first_newline > 0 and text[first_newline - 1] == "\r":
        note.newline = "\r\n"
        report(1, "info", "Windows (CRLF) line endings (kept as is)")

    body_offset = _read_frontmatter(note, report)
    if any(d.severity == "error" for d in diags):
        note.title = path.stem
        return note

    line0 = note.frontmatter_end
    body = text[body_offset:]
    doc = "\n" + body  # see blocks: every line follows a newline; ASCII bodies stay 1 byte/char
    note.__dict__["_body"] = (body_offset, line0)
    note.sections = None  # computed on first use, see model._SectionsOnFirstUse
    masks = None
    if not _reuse_body(note, same_body_as, body):
        masks = Masks(doc, 0)
        note.title = blocks.title(doc, 0, masks) or path.stem
        lowered = doc.lower()
        note.__dict__["_has_summary"], note.summary = blocks.quick_summary(doc, lowered, 0, masks, line0)
        note.progress_line, note.progress_tasks = blocks.reading_progress(doc, lowered, 0, masks, line0)
    if ".." in body:
        for line, target in blocks.links_leaving_vault(doc, 0, relpath, masks or Masks(doc, 0), line0):
            report(line, "warning", f"link target {target!r} is outside the vault; vaultlab will not follow it")
    has_summary = note.__dict__["_has_summary"]

    note.is_paper = has_summary or _tagged_paper(note.frontmatter.get("tags"))
    if not note.has_frontmatter:
        severity = "warning" if note.is_paper else "info"
        report(1, severity, "no frontmatter (properties) block",
               "add `---` / `tags: [paper]` / `---` at the very top of the note")
    elif note.is_paper and not has_summary:
        report(note.frontmatter_lines.get("tags", 1), "warning", "paper note without a `## Quick Summary` section",
               "add `## Quick Summary` with lines such as `**Method:** …` so vaultlab can map it to a recipe")
    return note


def _reuse_body(note: Note, earlier: Note | None, body: str) -> bool:
    """Copy the body's parse from ``earlier`` when its body text is the same; False otherwise."""
    if earlier is None or "_has_summary" not in earlier.__dict__ or "_body" not in earlier.__dict__:
        return False
    if earlier.text[earlier.__dict__["_body"][0]:] != body:
        return False
    shift = note.frontmatter_end - earlier.__dict__["_body"][1]
    note.title = earlier.title
    note.__dict__["_has_summary"] = earlier.__dict__["_has_summary"]
    summary, tasks = earlier.__dict__["_summary"], earlier.__dict__["_progress_tasks"]  # rows, or records once read
    summary = summary if type(summary) is Rows else [(f.label, f.key, f.value, f.line) for f in summary]
    tasks = tasks if type(tasks) is Rows else [(t.line, t.mark, t.text) for t in tasks]
    note.summary = Rows((label, key, value, line + shift) for label, key, value, line in summary)
    note.progress_line = earlier.progress_line + shift if earlier.progress_line else 0
    note.progress_tasks = Rows((line + shift, mark, text) for line, mark, text in tasks)
    return True


def _read_frontmatter(note: Note, report) -> int:  # noqa: ANN001 - local callback
    """Fill the note's frontmatter fields; return the text offset where the body starts."""
    text = note.text
    span = find_frontmatter(text)
    if span is None:
        if opens_frontmatter(text):
            report(1, "error", "frontmatter opened with `---` on line 1 is never closed",
                   "add a `---` line after the last property")
        return 0
    yaml_text = text[span.yaml_start : span.close_start]
    note.has_frontmatter = True
    note.frontmatter_end = yaml_text.count("\n") + 2
    body_start = span.close_end
    try:
        values, key_lines = load_mapping(yaml_text)
    except YamlError as exc:
        report(exc.line + 2, "error", f"invalid frontmatter YAML: {exc.message}",
               (exc.hint + "; " if exc.hint else "") + "vaultlab will not write this note until it parses")
        return body_start
    note.frontmatter = values
    note.frontmatter_lines = {str(k): lines[0] + 2 for k, lines in key_lines.items()}
    if not yaml_text.isascii():
        for key, value in values.items():
            kind = type(value)
            if (kind is str and (value.isascii() or not looks_garbled(value))) or (kind is not str and kind is not list):
                continue
            for line, bad in _garbled_scalars(value, key_lines[key]):
                report(line + 2, "warning", f"property {key!r} looks garbled (mojibake)", FIX_TEXT_HINT)
    return body_start


def _garbled_scalars(value: Any, lines: KeyLines):
    """(0-based YAML line, value) for each string in a property value that looks like mojibake."""
    key_line, value_line, item_lines = lines
    if isinstance(value, str):
        if looks_garbled(value):
            yield value_line, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str) and looks_garbled(item):
                yield (item_lines[index] if index < len(item_lines) else value_line), item


def tags_of(value: Any) -> list[str]:
    """Tags from a ``tags`` property written as a list or a string, without ``#``."""
    if isinstance(value, str):
        items = re.split(r"[,\s]+", value)
    elif isinstance(value, list):
        items = [str(v) for v in value if v is not None]
    else:
        return []
    return [t.strip().lstrip("#") for t in items if t and t.strip().lstrip("#")]


def _tagged_paper(value: Any) -> bool:
    return any(tag.casefold() == "paper" for tag in tags_of(value))
