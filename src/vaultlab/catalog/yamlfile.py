"""Read a data-only YAML file (a method card, the vocabulary) into plain Python with line numbers.

ruamel's round-trip loader is used for reading only: it follows YAML 1.2 (``yes`` and ``12:30`` stay
strings, ``1e-3`` is a float), never constructs Python objects from tags, and remembers where every
key sits, so a bad value can be reported as ``file:line``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import MarkedYAMLError

KeyPath = tuple[str | int, ...]


class YamlFileError(ValueError):
    """The file is not plain YAML data; ``line`` is 1-based (0 = whole file)."""

    def __init__(self, message: str, line: int = 0):
        super().__init__(message)
        self.line = line


@dataclass
class YamlData:
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)  # key path → 1-based line

    def line(self, *path: str | int) -> int:
        """Line of the deepest known prefix of ``path`` (the file's first line when nothing matches)."""
        for end in range(len(path), 0, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return 1


def load_yaml_text(text: str) -> YamlData:
    try:
        raw = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or str(exc).splitlines()[0]
        raise YamlFileError(f"not valid YAML: {problem}", (mark.line + 1) if mark else 0) from None
    lines: dict[KeyPath, int] = {}
    return YamlData(_plain(raw, (), lines), lines)


def load_yaml_file(path: Path) -> YamlData:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlFileError(f"cannot read: {exc}") from None
    return load_yaml_text(text)


def _plain(node: Any, path: KeyPath, lines: dict[KeyPath, int]) -> Any:
    """ruamel's node types → dict/list/str/int/float/bool/None, recording each key's line."""
    if isinstance(node, TaggedScalar) or (isinstance(node, (CommentedMap, CommentedSeq)) and node.tag.value):
        line = lines.get(path, 1)
        raise YamlFileError(f"YAML tags are not allowed in a data file (at {'.'.join(map(str, path)) or 'top level'})", line)
    if isinstance(node, CommentedMap):
        out: dict[str, Any] = {}
        for key, value in node.items():
            key_path = path + (str(key),)
            lines[key_path] = node.lc.key(key)[0] + 1
            out[str(key)] = _plain(value, key_path, lines)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for index, value in enumerate(node):
            lines[path + (index,)] = node.lc.item(index)[0] + 1
            items.append(_plain(value, path + (index,), lines))
        return items
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    # dates and other YAML types have no meaning in a card: keep their text
    return str(node)
