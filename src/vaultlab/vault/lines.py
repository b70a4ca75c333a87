"""Line helpers shared by the editors: split keeping endings, detect the note's newline."""

from __future__ import annotations


def split_lines(text: str) -> list[str]:
    """Lines with their endings; only "\\n" ends a line ("\\r\\n" stays on the line)."""
    if not text:
        return []
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def newline_of(text: str) -> str:
    """The note's line ending, from its first line ("\\n" when it has none)."""
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


def content(line: str) -> str:
    """A line without its ending."""
    return line.rstrip("\r\n")


def ending(line: str) -> str:
    return line[len(content(line)) :]
