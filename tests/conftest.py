"""Shared fixtures: small generated data, so every test runs in seconds on 2 CPU cores."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

EXAMPLE_VAULT = Path(__file__).resolve().parents[1] / "example_vault"


def copy_example_vault(dest: Path) -> Path:
    """The example vault as the repository holds it: without the ``.vaultlab/`` state (runs, caches,
    a config) that a local command may have left in the checkout, so every test starts the same."""
    shutil.copytree(EXAMPLE_VAULT, dest, ignore=shutil.ignore_patterns(".vaultlab"))
    return dest


def make_sampleset(n_subjects: int = 20, size: int = 32, seed: int = 0, domains: int = 2):
    """A learnable toy set: bona fide images are brighter in red; attacks carry a stripe pattern."""
    from vaultlab.data.sampleset import SampleSet

    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_subjects):
        split = ("train", "train", "train", "dev", "test")[s % 5]
        for d in range(domains):
            for kind in ("", "", "print-lq", "replay-hq"):
                rows.append((s, split, f"D{d}", kind))
    n = len(rows)
    images = rng.integers(0, 120, (n, size, size, 3), dtype=np.uint8)
    label = np.array([1 if r[3] == "" else 0 for r in rows])
    images[label == 1, :, :, 0] += 100
    images[label == 0, ::2, :, 1] += 100
    depth = np.zeros((n, size, size), np.uint8)
    depth[label == 1, size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 200
    parsing = np.zeros((n, size, size), np.uint8)
    parsing[:, size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 1
    return SampleSet(images=images, label=label, pai=np.array([r[3] for r in rows]), domain=np.array([r[2] for r in rows]),
                     subject=np.array([str(r[0]) for r in rows]), video=np.array([f"v{i}" for i in range(n)]),
                     split=np.array([r[1] for r in rows]), depth=depth, parsing=parsing, meta={"name": "toy"})


@pytest.fixture
def toy_set():
    return make_sampleset()
