"""Python values → YAML property text, the way Obsidian reads it back (types.json honoured).

Only what vaultlab writes needs formatting: scalars (text, number, checkbox, date, datetime) and
lists of scalars. Nested objects are refused (Obsidian's Properties UI cannot show them).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any

from .yaml12 import resolves_to_string

LIST_TYPES = frozenset({"multitext", "tags", "aliases"})
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?$")
# Strings other YAML readers (YAML 1.1: python-frontmatter, Dataview's older paths) would not
# read as text, or that look like dates/times; quoting them costs nothing.
_AMBIGUOUS = re.compile(r"(?i:y|n|yes|no|on|off)$|[-+]?[0-9][0-9_:.,-]*$|\d{4}-\d\d-\d\d")
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
_FLOW_UNSAFE = re.compile(r"[,\[\]{}]")
_CONTROL = re.compile("[\x00-\x1f\x7f\u2028\u2029\ufeff]")


class PropertyTypeError(TypeError):
    """A value that does not fit the property's type in types.json."""


def needs_quotes(text: str, in_flow: bool = False) -> bool:
    if not text or text != text.strip() or text[0] in _INDICATORS:
        return True
    if ": " in text or " #" in text or text.endswith(":") or "\t" in text:
        return True
    if _CONTROL.search(text) or (in_flow and _FLOW_UNSAFE.search(text)):
        return True
    return not resolves_to_string(text) or bool(_AMBIGUOUS.match(text))


def double_quoted(text: str) -> str:
    out = []
    for char in text:
        if char == "\\" or char == '"':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 32 or char in "\x7f\u2028\u2029\ufeff":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def quote_text(text: str, quote: str = "", in_flow: bool = False) -> str:
    """``text`` as a YAML scalar; ``quote`` ('"', "'" or '') is the style to keep when possible."""
    if quote == "'" and not _CONTROL.search(text):
        return "'" + text.replace("'", "''") + "'"
    if quote == '"' or needs_quotes(text, in_flow):
        return double_quoted(text)
    return text


def format_scalar(value: Any, type_name: str | None, quote: str = "", in_flow: bool = False) -> str:
    """One scalar value as YAML text for a property of ``type_name`` (None: inferred)."""
    if value is None:
        return ""
    if type_name in (None, "unknown"):
        type_name = _infer_type(value)
    if type_name == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            if isinstance(value, str) and not resolves_to_string(value.strip()):
                return value.strip()
            raise PropertyTypeError(f"{value!r} is not a number")
        if isinstance(value, float) and not math.isfinite(value):
            raise PropertyTypeError(f"{value!r} cannot be written as a property number")
        return repr(value) if isinstance(value, float) else str(value)
    if type_name == "checkbox":
        if not isinstance(value, bool):
            raise PropertyTypeError(f"{value!r} is not a checkbox value (true/false)")
        return "true" if value else "false"
    if type_name == "date":
        return _format_date(value, quote)
    if type_name == "datetime":
        return _format_datetime(value, quote)
    if isinstance(value, (dict, list, tuple, set)):
        raise PropertyTypeError(f"{type_name} property cannot hold {type(value).__name__}")
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (dt.date, dt.datetime)):
        text = value.isoformat()
    else:
        text = str(value)
    return quote_text(text, quote, in_flow)


def _infer_type(value: Any) -> str:
    if isinstance(value, bool):
        return "checkbox"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    return "text"


def _format_date(value: Any, quote: str) -> str:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        text = value.isoformat()
    elif isinstance(value, str) and _DATE.match(value):
        text = value
    else:
        raise PropertyTypeError(f"{value!r} is not a date (YYYY-MM-DD)")
    return f"{quote}{text}{quote}" if quote else text


def _format_datetime(value: Any, quote: str) -> str:
    if isinstance(value, dt.datetime):
        text = value.replace(tzinfo=None, microsecond=0).strftime("%Y-%m-%dT%H:%M:%S")
    elif isinstance(value, dt.date):
        text = value.isoformat() + "T00:00:00"
    elif isinstance(value, str) and _DATETIME.match(value):
        text = value
    else:
        raise PropertyTypeError(f"{value!r} is not a date & time (YYYY-MM-DDTHH:mm:ss)")
    return f"{quote}{text}{quote}" if quote else text


def is_list_value(value: Any, type_name: str | None) -> bool:
    return isinstance(value, (list, tuple)) or (type_name in LIST_TYPES and value is not None)


def list_items(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def format_flow_list(items: list[Any], quote: str = "") -> str:
    return "[" + ", ".join(format_scalar(item, None, quote, in_flow=True) for item in items) + "]"


def canonical(value: Any) -> Any:
    """A comparable form: dates as their ISO text, lists as tuples (so "unchanged" is detected)."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None, microsecond=0).strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return tuple(canonical(v) for v in value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), canonical(v)) for k, v in value.items()))
    return value
