"""YAML 1.2 core-schema loading on top of PyYAML's C parser (libyaml).

Obsidian reads properties with YAML 1.2 "core" rules, so ``yes``, ``on``, ``12:30`` and ``0755``
must not become booleans, sexagesimals or octals as they do under PyYAML's YAML 1.1 resolvers.
libyaml parses and composes the node tree; we supply the resolver (which tag a plain scalar gets)
and a small constructor that turns nodes into Python values. Both are faster than PyYAML's generic
Python ones, which matters because sync parses every note of the vault.

Choices, documented because callers see them:

- dates (``2025-11-26``) and date-times stay **strings**, exactly as written (Obsidian does the
  same; a value we splice back keeps its spelling);
- only the core tags are accepted (str, int, float, bool, null, seq, map); any other explicit tag,
  ``!!python/object`` included, is refused and nothing is constructed from it;
- duplicate mapping keys are an error (Obsidian requires unique keys);
- an alias to an anchor gives the same Python object (so "billion laughs" stays linear).
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

_CORE = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL, SEQ, MAP = (_CORE + t for t in ("str", "int", "float", "bool", "null", "seq", "map"))

# YAML 1.2.2 §10.3.2, the core schema's tag resolution table, as one pattern: group 1 null,
# 2 bool, 3 int, 4 float.
_CORE_SCALAR = re.compile(
    r"(~|null|Null|NULL)$"
    r"|(true|True|TRUE|false|False|FALSE)$"
    r"|([-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"
    r"|([-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_TYPED_FIRST_CHARS = frozenset("~nNtTfF-+.0123456789")
_GROUP_TAG = {1: NULL, 2: BOOL, 3: INT, 4: FLOAT}


class YamlError(ValueError):
    """A frontmatter block that cannot be read; ``line`` is 0-based within the YAML text."""

    def __init__(self, message: str, line: int, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.hint = hint


def core_tag(value: str) -> str:
    """The tag YAML 1.2 core gives ``value`` written as a plain (unquoted) scalar."""
    if not value:
        return NULL
    if value[0] not in _TYPED_FIRST_CHARS:
        return STR
    match = _CORE_SCALAR.match(value)
    return _GROUP_TAG[match.lastindex] if match else STR


def resolves_to_string(text: str) -> bool:
    """True when ``text`` written as a plain scalar would load back as that same string."""
    return core_tag(text) == STR


class Core12Loader(yaml.CSafeLoader):
    """libyaml's parser and composer with YAML 1.2 core tag resolution."""

    def resolve(self, kind, value, implicit):  # noqa: ANN001 - PyYAML signature
        if kind is ScalarNode:
            return core_tag(value) if implicit[0] else STR
        return SEQ if kind is SequenceNode else MAP


class _Refused(Exception):
    def __init__(self, message: str, node: yaml.Node) -> None:
        super().__init__(message)
        self.node = node


def _scalar(node: ScalarNode) -> Any:
    tag, text = node.tag, node.value
    if tag == STR:
        return text
    if tag == NULL:
        return None
    if tag == BOOL:
        return text.lower() == "true"
    if tag == INT:
        if text.startswith("0o"):
            return int(text[2:], 8)
        if text.startswith("0x"):
            return int(text[2:], 16)
        return int(text, 10)  # "0755" is decimal 755 in YAML 1.2
    if tag == FLOAT:
        lowered = text.lower()
        if lowered.endswith(".inf"):
            return -math.inf if lowered.startswith("-") else math.inf
        if lowered == ".nan":
            return math.nan
        return float(text)
    raise _Refused(f"tag {tag!r} is not allowed in properties", node)


def _construct(node: yaml.Node, memo: dict[int, Any]) -> Any:
    if type(node) is ScalarNode:
        return _scalar(node)
    known = memo.get(id(node))
    if known is not None:
        return known
    if node.tag == SEQ and type(node) is SequenceNode:
        items: list[Any] = []
        memo[id(node)] = items
        items.extend(_construct(child, memo) for child in node.value)
        return items
    if node.tag == MAP and type(node) is MappingNode:
        mapping: dict[Any, Any] = {}
        memo[id(node)] = mapping
        for key_node, value_node in node.value:
            key = _construct(key_node, memo)
            try:
                duplicate = key in mapping
            except TypeError:
                raise _Refused("a property name must be a plain value", key_node) from None
            if duplicate:
                raise _Refused(f"duplicate key {key!r}", key_node)
            mapping[key] = _construct(value_node, memo)
        return mapping
    raise _Refused(f"tag {node.tag!r} is not allowed in properties", node)


# 0-based YAML lines of one top-level property: (key line, value line, (list item lines...)).
# A plain tuple, not a NamedTuple: thousands are made per sync and namedtuple construction is slow.
KeyLines = tuple[int, int, tuple[int, ...]]


def load_mapping(text: str) -> tuple[dict[str, Any], dict[str, KeyLines]]:
    """Load one frontmatter block; return (values, key → KeyLines).

    Raises ``YamlError`` for invalid YAML, refused tags, duplicate keys and non-mapping documents.
    Simple blocks (the vast majority: ``key: scalar`` lines, flow lists and block lists of simple
    scalars) take a line-by-line fast path whose results equal libyaml's (a property test checks);
    anything else goes through libyaml.
    """
    fast = fast_load(text)
    if fast is not None:
        return fast
    loader = Core12Loader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        line = mark.line if mark is not None else 0
        hint = _hint_for(problem)
        if "\t" in (text.split("\n")[line : line + 1] or [""])[0]:
            hint = _hint_for("tab")
        raise YamlError(problem, line, hint) from None
    finally:
        loader.dispose()
    if node is None:
        return {}, {}
    if type(node) is not MappingNode:
        raise YamlError("properties must be a mapping of `key: value` lines", node.start_mark.line,
                        "each property goes on its own `name: value` line")
    try:
        data = _construct(node, {})
    except _Refused as exc:
        raise YamlError(str(exc), exc.node.start_mark.line, _hint_for(str(exc))) from None
    except (ValueError, OverflowError) as exc:
        raise YamlError(str(exc), node.start_mark.line, "quote the value to keep it as text") from None
    lines = {}
    for key_node, value_node in node.value:
        if type(key_node) is ScalarNode:
            items = tuple(n.start_mark.line for n in value_node.value) if type(value_node) is SequenceNode else ()
            lines[key_node.value] = (key_node.start_mark.line, value_node.start_mark.line, items)
    return data, lines


# --- fast path ------------------------------------------------------------------------------------
# A plain scalar that is unambiguous in block context: no leading indicator, no ": ", " #", tab.
_PLAIN_UNSAFE_START = frozenset("-?:,[]{}#&*!|>'\"%@`")
_FLOW_UNSAFE = re.compile(r"[,\[\]{}]")
_PLAIN_UNSAFE = re.compile(r": |\s#|\t|:$")


def _fast_scalar(raw: str, in_flow: bool) -> tuple[bool, Any]:
    """(ok, value) for one simple scalar; ok=False means "let libyaml decide"."""
    if not raw:
        return True, None
    first = raw[0]
    if first == '"':
        inner = raw[1:-1]
        if len(raw) >= 2 and raw[-1] == '"' and '"' not in inner and "\\" not in inner:
            return True, inner
        return False, None
    if first == "'":
        inner = raw[1:-1]
        if len(raw) >= 2 and raw[-1] == "'" and "'" not in inner:
            return True, inner
        return False, None
    if first in _PLAIN_UNSAFE_START and not (first == "-" and raw[1:2].isdigit()):
        return False, None
    if _PLAIN_UNSAFE.search(raw) or (in_flow and _FLOW_UNSAFE.search(raw)):
        return False, None
    if raw[0] not in _TYPED_FIRST_CHARS:
        return True, raw
    tag = core_tag(raw)
    if tag == STR:
        return True, raw
    try:
        return True, _scalar(ScalarNode(tag, raw))
    except (ValueError, OverflowError):
        return False, None


_WORD_LIST = re.compile(r"\[ *([A-Za-z_][\w./-]*(?: [\w./-]+)*(?: *, *[A-Za-z_][\w./-]*(?: [\w./-]+)*)*) *\]")


def _fast_flow_list(raw: str) -> tuple[bool, Any]:
    words = _WORD_LIST.fullmatch(raw)
    if words is not None:  # the usual `tags: [paper, pad]`: plain words only
        items = [item.strip() for item in words.group(1).split(",")]
        if all(item[0] not in _TYPED_FIRST_CHARS or core_tag(item) == STR for item in items):
            return True, items
    inner = raw[1:-1].strip()
    if not inner:
        return True, []
    if "\n" in inner or inner.endswith(","):
        return False, None
    items = []
    for part in inner.split(","):
        ok, value = _fast_scalar(part.strip(), in_flow=True)
        if not ok or value is None:
            return False, None
        items.append(value)
    return True, items


# One alternative per simple line shape, each running to the line's end: key line (1 key,
# 2 value), block-list item (3 indent, 4 value), blank line. Matched over "\n" + text so every
# match starts at a newline literal (fast to find) and each line yields at most one match.
_SIMPLE_LINE = re.compile(
    r"\n(?:([A-Za-z_][\w./-]*(?: [\w./-]+)*):(?: +([^\r\n]*))?"
    r"|( *)-(?: +([^\r\n]*))?"
    r"|[ \t]*)\r?(?=\n|\Z)"
)
_PLAIN_TEXT_START = frozenset("ABCDEGHIJKLMOPQRSUVWXYZabcdeghijklmopqrsuvwxyz_()/$^=;<\\")


def fast_load(text: str) -> tuple[dict[str, Any], dict[str, KeyLines]] | None:
    """Parse a simple frontmatter block without libyaml, or return None when it is not simple."""
    matches = _SIMPLE_LINE.findall("\n" + text)
    if len(matches) != text.count("\n") + 1:
        return None  # some line has another shape
    data: dict[str, Any] = {}
    lines: dict[str, KeyLines] = {}
    current: str | None = None  # key whose block list is being read
    items: list[int] = []
    item_indent = ""
    for number, (key, raw, indent, item) in enumerate(matches):
        if raw and raw[-1] == " ":
            raw = raw.rstrip(" ")
        if item and item[-1] == " ":
            item = item.rstrip(" ")
        if key:
            if key in data or (key[0] in _TYPED_FIRST_CHARS and core_tag(key) != STR):
                return None
            if not raw:
                value = None
            elif raw[0] in _PLAIN_TEXT_START and not _PLAIN_UNSAFE.search(raw):
                value = raw  # the common case: plain text that cannot be anything else
            elif raw[0] == "[":
                if raw[-1] != "]":
                    return None
                ok, value = _fast_flow_list(raw)
                if not ok:
                    return None
            else:
                ok, value = _fast_scalar(raw, in_flow=False)
                if not ok:
                    return None
            data[key] = value
            lines[key] = (number, number, ())
            current, items = (key if value is None else None), []
        elif indent or item or _is_dash_line(text, number):
            if current is None:
                return None
            if not items:
                item_indent = indent
            elif indent != item_indent:
                return None
            ok, value = _fast_scalar(item or "", in_flow=False)
            if not ok:
                return None
            if data[current] is None:
                data[current] = []
            data[current].append(value)
            items.append(number)
            lines[current] = (lines[current][0], items[0], tuple(items))
    return data, lines


def _is_dash_line(text: str, number: int) -> bool:
    # A bare "-" item (empty value) and a blank line both leave every group empty; tell them apart.
    line = text.split("\n")[number]
    return line.strip(" \r") == "-"


def _hint_for(problem: str) -> str:
    if "duplicate key" in problem:
        return "each property may appear only once; merge or rename the repeated key"
    if "tag" in problem:
        return "remove the `!` tag; properties hold plain text, numbers, dates and lists"
    if "mapping values are not allowed" in problem:
        return 'quote values that contain ": " (e.g. title: "A: B")'
    if "\\t" in problem or "tab" in problem:
        return "YAML does not allow tabs for indentation; use spaces"
    return "fix the YAML syntax (quote values containing `:`, `#`, `[` or a leading `-`)"
