"""Splice-only editing of note text: every byte outside the touched lines stays identical.

We never re-dump YAML (A9 in the reference: round-trip libraries change 3-96 % of real blocks).
A property edit replaces only the line(s) of that key's value, or appends ``key: value`` before the
closing ``---``. Managed regions and Results-table rows live in ``regions`` and ``tables``; they are
re-exported here so callers find every editor in one place. All editors are idempotent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import propformat as fmt
from .frontmatter import find_frontmatter, opens_frontmatter
from .lines import content, newline_of, split_lines
from .regions import RegionError, replace_region
from .tables import owned_by_results_folder, upsert_results_rows
from .yaml12 import YamlError, load_mapping

__all__ = [
    "NoFrontmatter",
    "RegionError",
    "owned_by_results_folder",
    "replace_region",
    "set_properties",
    "upsert_results_rows",
]

# A top-level key line: quoted or plain key, then ":" followed by a space or the line end.
_KEY_LINE = re.compile(r"""("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"\-?:,\[\]{}&*!|>%@`][^:]*?|-[^\s:][^:]*?)[ \t]*:(?=[ \t]|$)""")
_ITEM_LINE = re.compile(r"( *)- ")


class NoFrontmatter(ValueError):
    """The note has no properties block and the caller did not ask to create one."""


@dataclass
class _Key:
    name: str
    first: int  # index into the block's lines
    last: int  # inclusive
    key_text: str  # the key as written, up to and including ":"
    value_text: str  # the text after ":" on the key line, stripped


def set_properties(
    text: str,
    updates: Mapping[str, Any],
    types: Mapping[str, str] | None = None,
    *,
    create: bool = False,
    current: Mapping[str, Any] | None = None,
) -> str:
    """Set frontmatter properties by splicing lines; keys whose value is already equal are left alone.

    ``types`` is types.json's ``{"name": "text" | "number" | ...}``. ``current`` (the parsed
    frontmatter, when the caller has it) saves a parse. Raises ``NoFrontmatter`` when there is no
    block and ``create`` is false, ``YamlError`` when the block does not parse, and
    ``propformat.PropertyTypeError`` when a value does not fit its type.
    """
    types = types or {}
    offset = 1 if text.startswith("\ufeff") else 0
    span = find_frontmatter(text, offset)
    if span is None:
        if opens_frontmatter(text, offset):
            raise YamlError("frontmatter is never closed", 0, "add a closing `---` line")
        if not create:
            raise NoFrontmatter("note has no frontmatter block")
        if not updates:
            return text
        newline = newline_of(text)
        head = f"---{newline}---{newline}"
        text = text[:offset] + head + text[offset:]
        span = find_frontmatter(text, offset)
        assert span is not None
    yaml_text = text[span.yaml_start : span.close_start]
    if current is None:
        current = load_mapping(yaml_text)[0]
    pending = {k: v for k, v in updates.items() if k not in current or fmt.canonical(current[k]) != fmt.canonical(v)}
    if not pending:
        return text
    newline = newline_of(text[offset:])
    if not any(k in current or fmt.is_list_value(v, types.get(k)) for k, v in pending.items()):
        # Only new scalar keys (the usual sync): append them, no need to map the block's lines.
        added = "".join(line for k, v in pending.items() for line in _render(k + ":", v, types.get(k), "", "", newline))
        return text[: span.close_start] + added + text[span.close_start :]
    block = split_lines(yaml_text)
    if any(fmt.is_list_value(v, types.get(k)) for k, v in pending.items()):
        keys = _locate_keys(block)
        list_style = _list_style(block, keys)
    else:  # scalars only: find just the keys being replaced
        keys = {k: found for k in pending if (found := _locate_key(block, k)) is not None}
        list_style = "  - "
    appended: list[str] = []
    for name, value in pending.items():
        type_name = types.get(name)
        found = keys.get(name)
        if found is None:
            if name in current:  # e.g. a JSON or flow-style block: appending would duplicate the key
                raise ValueError(f"cannot find the line of property {name!r} to edit it in place")
            appended.extend(_render(name + ":", value, type_name, "", list_style, newline))
            continue
        quote = found.value_text[:1] if found.value_text[:1] in ("'", '"') else ""
        style = _own_list_style(block, found) or list_style
        ending = block[found.last][len(content(block[found.last])) :] or newline
        new_lines = _render(found.key_text, value, type_name, quote, style, ending)
        comment = _trailing_comment(found.value_text)
        if comment and len(new_lines) == 1:  # keep the user's `# note` on the line we rewrite
            new_lines = [new_lines[0][: -len(ending)] + " " + comment + ending]
        block[found.first : found.last + 1] = [None] * (found.last - found.first + 1)  # type: ignore[list-item]
        block[found.first] = "".join(new_lines)  # one slot keeps later keys' indexes valid
    new_yaml = "".join(line for line in block if line is not None) + "".join(appended)
    return text[: span.yaml_start] + new_yaml + text[span.close_start :]


def _trailing_comment(value_text: str) -> str:
    """The ``# comment`` after a scalar value on its key line, or ""."""
    if value_text[:1] in ("'", '"'):
        quote, index = value_text[0], 1
        while index < len(value_text):
            char = value_text[index]
            if quote == '"' and char == "\\":
                index += 2
                continue
            if char == quote:
                if quote == "'" and value_text[index + 1 : index + 2] == "'":
                    index += 2
                    continue
                rest = value_text[index + 1 :].strip()
                return rest if rest.startswith("#") else ""
            index += 1
        return ""
    if value_text.startswith("#"):
        return value_text
    at = value_text.find(" #")
    return value_text[at + 1 :].strip() if at >= 0 else ""


def _locate_keys(block: list[str]) -> dict[str, _Key]:
    keys: dict[str, _Key] = {}
    current: _Key | None = None
    for index, line in enumerate(block):
        body = content(line)
        if body[:1] in (" ", "\t") or (body[:2] == "- " or body == "-"):
            if current is not None and body.strip():
                current.last = index  # continuation: indented text or a block-list item
            continue
        if not body.strip() or body.startswith("#"):
            current = None if body.startswith("#") else current
            continue
        match = _KEY_LINE.match(body)
        if match is None:
            current = None
            continue
        raw_key = match.group(1)
        name = raw_key[1:-1] if raw_key[:1] in "'\"" and len(raw_key) > 1 else raw_key
        current = _Key(name, index, index, body[: match.end()], body[match.end() :].strip())
        keys.setdefault(name, current)
    return keys


def _locate_key(block: list[str], name: str) -> _Key | None:
    """The span of one top-level key (cheaper than mapping every key)."""
    for index, line in enumerate(block):
        if not (line.startswith(name) or line[:1] in ("'", '"')):
            continue
        body = content(line)
        match = _KEY_LINE.match(body)
        if match is None:
            continue
        raw_key = match.group(1)
        if (raw_key[1:-1] if raw_key[:1] in "'\"" and len(raw_key) > 1 else raw_key) != name:
            continue
        last = index
        for later in range(index + 1, len(block)):
            following = content(block[later])
            if following[:1] in (" ", "\t") or following[:2] == "- " or following == "-":
                if following.strip():
                    last = later
            elif following.strip() and not following.startswith("#") or following.startswith("#"):
                break
        return _Key(name, index, last, body[: match.end()], body[match.end() :].strip())
    return None


def _own_list_style(block: list[str], key: _Key) -> str | None:
    """"flow", or the item prefix ("  - ") of the key's existing block list; None if not a list."""
    if key.value_text.startswith("["):
        return "flow"
    if key.last > key.first:
        item = _ITEM_LINE.match(content(block[key.first + 1]))
        if item:
            return item.group(1) + "- "
    return None


def _list_style(block: list[str], keys: dict[str, _Key]) -> str:
    """The note's list style for new keys: its first block list's indent, else flow if it uses flow."""
    saw_flow = False
    for key in keys.values():
        style = _own_list_style(block, key)
        if style and style != "flow":
            return style
        saw_flow = saw_flow or style == "flow"
    return "flow" if saw_flow else "  - "  # Obsidian's own style for new lists


def _render(key_text: str, value: Any, type_name: str | None, quote: str, list_style: str, newline: str) -> list[str]:
    if fmt.is_list_value(value, type_name):
        items = fmt.list_items(value)
        if not items:
            return [f"{key_text} []{newline}"]
        if list_style == "flow":
            return [f"{key_text} {fmt.format_flow_list(items, quote)}{newline}"]
        return [f"{key_text}{newline}"] + [
            f"{list_style}{fmt.format_scalar(item, None, quote)}{newline}" for item in items
        ]
    if isinstance(value, Mapping):
        raise fmt.PropertyTypeError("vaultlab does not write nested properties")
    scalar = fmt.format_scalar(value, type_name, quote)
    return [f"{key_text} {scalar}{newline}" if scalar else f"{key_text}{newline}"]
