"""The paper note's Results table: vaultlab replaces only the rows it owns.

A row is vaultlab's when its Result cell links to a vaultlab result note; the seeds' all-blank
placeholder row may be replaced too. The user's own rows are never touched. Without a suitable
table, the table goes into the managed region ``results`` at the end of the note.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from .blocks import heading_key
from .lines import content, ending, newline_of, split_lines
from .regions import replace_region
from .structure import note_lines

COLUMNS = ("Dataset", "Metric", "Result", "Baseline")
_DELIMITER = re.compile(r"\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")
_HEADING = re.compile(r" {0,3}#{1,6}[ \t]+(.*?)[ \t#]*$")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")

RowPredicate = Callable[[dict[str, str]], bool]


def owned_by_results_folder(folder: str = "vaultlab/results") -> RowPredicate:
    """Rows whose Result cell links (wikilink or Markdown link) into ``folder``."""
    folder = folder.strip("/") + "/"
    wikilink, mdlink = "[[" + folder, "](" + folder

    def owned(cells: dict[str, str]) -> bool:
        result = cells.get("result", "")
        return wikilink in result or mdlink in result or "](" + folder.replace(" ", "%20") in result

    return owned


def split_cells(line: str) -> list[str]:
    body = content(line).strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    return [cell.strip() for cell in _UNESCAPED_PIPE.split(body)]


def escape_cell(value: object) -> str:
    text = "" if value is None else str(value)
    text = " ".join(text.replace("\r", " ").split("\n")).strip()
    return _UNESCAPED_PIPE.sub(r"\\|", text)


def _find_table(lines: list[str]) -> tuple[int, list[str]] | None:
    """(header line index, lower-cased column names) of the best Dataset|Metric|Result|Baseline table."""
    structure = note_lines("".join(lines))  # a table in code, a %% comment or a callout is not the Results table
    wanted = {c.lower() for c in COLUMNS}
    section = ""
    first: tuple[int, list[str]] | None = None
    for index, line in enumerate(lines[:-1]):
        if not structure.readable(index):
            continue
        heading = _HEADING.match(content(line))
        if heading:
            section = heading_key(heading.group(1))
            continue
        if "|" not in line or not _DELIMITER.match(content(lines[index + 1])) or "-" not in lines[index + 1]:
            continue
        columns = [c.lower() for c in split_cells(line)]
        if not wanted <= set(columns):
            continue
        if section == "results":
            return index, columns
        first = first or (index, columns)
    return first


def upsert_results_rows(
    text: str,
    rows: Sequence[Mapping[str, object]],
    owned: RowPredicate | None = None,
) -> str:
    """Put ``rows`` (dicts keyed by column name, any case) in place of vaultlab's rows.

    They take the position of the first owned row (or of an all-blank placeholder row, or go
    after the last row); other owned rows are removed; every other row stays byte-identical.
    """
    owned = owned or owned_by_results_folder()
    lines = split_lines(text)
    found = _find_table(lines)
    if found is None:
        return replace_region(text, "results", _new_table(rows, "\n"))
    header, columns = found
    newline = ending(lines[header]) or newline_of(text)
    rendered = [_row(row, columns, newline) for row in rows]
    body_start = index = header + 2
    while index < len(lines) and "|" in lines[index] and content(lines[index]).strip():
        index += 1
    body = lines[body_start:index]
    keep: list[str] = []
    insert_at: int | None = None
    placeholder: int | None = None
    for line in body:
        cells = dict(zip(columns, split_cells(line)))
        if owned(cells):
            if insert_at is None:
                insert_at = len(keep)
            continue
        if placeholder is None and not any(cells.values()):
            placeholder = len(keep)
        keep.append(line)
    if insert_at is None and placeholder is not None and rendered:
        insert_at = placeholder
        keep.pop(placeholder)
    if insert_at is None:
        insert_at = len(keep)
    table = lines[header:body_start] + keep[:insert_at] + rendered + keep[insert_at:]
    if index == len(lines) and not lines[-1].endswith("\n"):
        # The table ended the file without a final newline; keep it that way.
        table = [line if line.endswith("\n") else line + newline for line in table]
        table[-1] = content(table[-1])
    return "".join(lines[:header] + table + lines[index:])


def _row(row: Mapping[str, object], columns: list[str], newline: str) -> str:
    by_name = {str(k).lower(): v for k, v in row.items()}
    return "| " + " | ".join(escape_cell(by_name.get(c, "")) for c in columns) + " |" + newline


def _new_table(rows: Sequence[Mapping[str, object]], newline: str) -> str:
    columns = [c.lower() for c in COLUMNS]
    head = "| " + " | ".join(COLUMNS) + " |" + newline + "|" + "|".join("---" for _ in COLUMNS) + "|" + newline
    return head + "".join(_row(row, columns, newline) for row in rows)
