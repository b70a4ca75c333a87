"""The detector's box average: halving steps stay within two grey levels of one k×k average."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vaultlab.data.real.faces import box_shrunk


@pytest.mark.parametrize("k", [1, 2, 3, 6, 8])
def test_box_shrunk_is_a_box_average(k):
    rng = np.random.default_rng(k)
    grey = cv2.GaussianBlur(rng.integers(0, 256, (270, 485), dtype=np.uint8), (0, 0), 3)  # 485 = 60·8 + 5: edge columns drop
    shrunk = box_shrunk(grey, k)
    h, w = 270 // k, 485 // k
    exact = grey[: h * k, : w * k].reshape(h, k, w, k).mean(axis=(1, 3))
    assert shrunk.shape == (h, w) and shrunk.dtype == np.uint8
    assert np.abs(shrunk - exact).max() <= 2
