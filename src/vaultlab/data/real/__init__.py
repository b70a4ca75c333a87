"""Real FAS datasets: adapters for the official layouts, preprocessing into a face-crop cache, loading.

    discover_dataset("oulu-npu", root)          → records + official protocol lists (layouts.py)
    prepare_dataset("oulu-npu", root, cache)    → resumable shards of crops (prepare.py)
    load_prepared("oulu-npu", vault_root)       → SampleSet for the protocols (cache.py)
"""

# importing protocols_real registers oulu:…, ocim:… and ocim-honest:… with make_splits
from vaultlab.data.protocols_real import OCIM_LETTERS, protocol_folds
from vaultlab.data.real.cache import PreparedDataError, dataset_cache_dir, load_prepared
from vaultlab.data.real.layouts import ADAPTERS, canonical_name, discover_dataset
from vaultlab.data.real.records import DatasetLayoutError, VideoRecord

__all__ = [
    "ADAPTERS", "OCIM_LETTERS", "DatasetLayoutError", "PreparedDataError", "VideoRecord", "canonical_name",
    "dataset_cache_dir", "discover_dataset", "load_prepared", "protocol_folds",
]
