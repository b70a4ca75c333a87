"""Fixtures for the vault tests: the user's seed notes, copied into a scratch vault."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SEED_VAULT = REPO / "example_vault"
SEEDS = sorted(SEED_VAULT.glob("*.md"))


@pytest.fixture
def seed_vault(tmp_path: Path) -> Path:
    """A writable copy of example_vault (the originals are read-only and must stay untouched)."""
    root = tmp_path / "vault"
    shutil.copytree(SEED_VAULT, root, ignore=shutil.ignore_patterns(".vaultlab", "vaultlab"))
    for path in root.rglob("*.md"):
        path.chmod(0o644)
    return root
