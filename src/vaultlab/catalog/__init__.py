"""Method cards + vocabulary → Experiment, with diagnostics. Torch-free (it runs on ``sync``).

``vaultlab show`` prints ``vaultlab.catalog.describe.describe_experiment``.
"""

from vaultlab.catalog.cards import Assumption, Catalog, MethodCard, load_catalog
from vaultlab.catalog.describe import describe_catalog, describe_experiment, describe_rows
from vaultlab.catalog.lookup import find_experiment
from vaultlab.catalog.overrides import OverrideError, parse_overrides, set_override
from vaultlab.catalog.resolve import Experiment, Resolved, UnmappedTerm, resolve_note, resolve_vault

__all__ = [
    "Assumption", "Catalog", "Experiment", "MethodCard", "OverrideError", "Resolved", "UnmappedTerm",
    "describe_catalog", "describe_experiment", "describe_rows", "find_experiment", "load_catalog", "parse_overrides", "resolve_note", "resolve_vault", "set_override",
]
