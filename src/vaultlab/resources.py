"""Where the shipped method cards and templates live.

An installed wheel carries them under ``vaultlab/_data/``; an editable install (the Makefile's) reads
them from the repository's top-level ``methods/`` and ``templates/``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _resource_dir(name: str) -> Path:
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parents[1] / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"vaultlab's {name}/ folder is missing from the installation (looked in {_PACKAGE_DIR})")


def methods_dir() -> Path:
    return _resource_dir("methods")


def templates_dir() -> Path:
    return _resource_dir("templates")
