"""Training recipes, one module per paper plus the baseline.

This package's ``__init__`` must stay torch-free: the catalog (on the ``sync`` path) asks which
recipes exist without importing them.
"""

from __future__ import annotations

import importlib.util

# canonical recipe id → module that defines it (the module registers a ``Recipe`` subclass on import)
RECIPE_MODULES: dict[str, str] = {
    "baseline": "vaultlab.recipes.baseline",
    "distillation": "vaultlab.recipes.distillation",
    "anomaly": "vaultlab.recipes.anomaly",
    "onesidetriplet": "vaultlab.recipes.onesidetriplet",
    "depthseg": "vaultlab.recipes.depthseg",
}


def recipe_available(name: str) -> bool:
    """True when the recipe's module is present in this installation (checked without importing it)."""
    module = RECIPE_MODULES.get(name)
    return module is not None and importlib.util.find_spec(module) is not None
