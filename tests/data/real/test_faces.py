"""The face search: halving steps stay within two grey levels of one k×k average; a search for big faces first finds the same face."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import face_image
from vaultlab.data.real.faces import NEAR_SIZE, FaceDetector, box_shrunk


@pytest.mark.parametrize("k", [1, 2, 3, 6, 8])
def test_box_shrunk_is_a_box_average(k):
    rng = np.random.default_rng(k)
    grey = cv2.GaussianBlur(rng.integers(0, 256, (270, 485), dtype=np.uint8), (0, 0), 3)  # 485 = 60·8 + 5: edge columns drop
    shrunk = box_shrunk(grey, k)
    h, w = 270 // k, 485 // k
    exact = grey[: h * k, : w * k].reshape(h, k, w, k).mean(axis=(1, 3))
    assert shrunk.shape == (h, w) and shrunk.dtype == np.uint8
    assert np.abs(shrunk - exact).max() <= 2


def test_a_search_for_faces_at_least_as_big_finds_the_same_face_or_falls_back():
    frame = np.full((480, 640), 90, np.uint8)
    frame[100:340, 300:540] = cv2.cvtColor(face_image(240), cv2.COLOR_RGB2GRAY)
    detector = FaceDetector()
    full = detector.largest_face_in_grey(frame)
    assert full is not None
    side = max(full[2:])
    assert detector.largest_face_in_grey(frame, int(NEAR_SIZE * side)) == full  # a previous face of the same size
    assert detector.largest_face_in_grey(frame, 3 * side) == full  # none that big: the whole search
    assert detector.largest_face_in_grey(np.full((480, 640), 90, np.uint8), side) is None
