"""Which files of the vault are notes: every ``.md`` file Obsidian itself would index.

Skipped: dot-folders and dot-files (the config folder however renamed, ``.trash``, ``.vaultlab``,
``.git``: Obsidian hides them too), template folders, ``userIgnoreFilters``, and symlinks (never
followed; one pointing outside the vault gets a warning).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from .model import Diagnostic


class IgnoreRules(Protocol):
    """What the walk needs of ``config.VaultConfig`` (which uses this module to count file names)."""

    def ignored(self, relpath: str) -> bool: ...


def scan_vault(root: Path, config: IgnoreRules) -> tuple[list[Path], list[Diagnostic]]:
    """Sorted absolute paths of the vault's notes, plus diagnostics about what was skipped."""
    root = Path(root)
    diagnostics: list[Diagnostic] = []
    paths = [root / relpath for relpath, _ in walk_notes(root, config, diagnostics)]
    return paths, diagnostics


def walk_notes(
    root: Path, config: IgnoreRules, diagnostics: list[Diagnostic], suffixes: tuple[str, ...] | None = (".md",)
) -> list[tuple[str, os.stat_result]]:
    """Sorted (relpath, stat) of vault files (``suffixes`` None: every file); stat is reused by the cache."""
    found: list[tuple[str, os.stat_result]] = []
    real_root = os.path.realpath(root)
    stack = [("", os.fspath(root))]
    while stack:
        prefix, folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            diagnostics.append(Diagnostic(prefix.rstrip("/") or ".", 0, "warning", f"cannot list folder: {exc.strerror}"))
            continue
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            relpath = prefix + name
            if entry.is_symlink():
                _report_symlink(entry.path, relpath, real_root, diagnostics)
                continue
            if entry.is_dir(follow_symlinks=False):
                if not config.ignored(relpath):
                    stack.append((relpath + "/", entry.path))
                continue
            if suffixes is not None and not name.endswith(suffixes):
                continue
            if config.ignored(relpath):
                continue
            try:
                found.append((relpath, entry.stat(follow_symlinks=False)))
            except OSError:
                continue  # vanished while scanning
    found.sort(key=lambda item: item[0])
    return found


def iter_vault_files(root: Path, config: IgnoreRules, suffixes: tuple[str, ...] | None = (".md",)) -> Iterator[str]:
    for relpath, _ in walk_notes(root, config, [], suffixes):
        yield relpath


def _report_symlink(path: str, relpath: str, real_root: str, diagnostics: list[Diagnostic]) -> None:
    target = os.path.realpath(path)
    if target != real_root and not target.startswith(real_root + os.sep):
        diagnostics.append(Diagnostic(
            relpath, 0, "warning", "symbolic link to a place outside the vault; not followed",
            "vaultlab reads and writes only inside the vault",
        ))
