from __future__ import annotations

import pytest
from recipe_fixtures import build_tiny_sampleset

from vaultlab.data.sampleset import SampleSet


@pytest.fixture(scope="session")
def tiny_data() -> SampleSet:
    return build_tiny_sampleset()
