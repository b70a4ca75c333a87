"""Pseudo-depth and face-parsing targets for prepared real data, made offline.

The literature's pseudo-depth comes from PRNet (TF1 + dlib, never shipped as maps; fas-toolkits.md
§5.4). vaultlab uses a documented fallback instead: a face-shaped ellipse over the detected face
box, as a dome (depth falls from 255 at the centre to 64 at the rim, 0 outside) for bona fide
crops, and a coarse 7-class parsing laid out on that ellipse with canonical proportions. Attacks get
zeros (planar). The choice is written to the manifest as ``depth_source`` and reaches result notes.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

PARSING_CLASSES = ["background", "skin", "brows", "eyes", "nose", "mouth", "hair"]  # as SynthFAS
DEPTH_SOURCE = "ellipse-template: dome over the Haar face box (bona fide), zeros for attacks; not PRNet"
PARSING_SOURCE = "ellipse-template: canonical layout of skin, brows, eyes, nose, mouth, hair (bona fide), zeros for attacks"


@lru_cache(maxsize=8)
def face_templates(size: int, crop_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """(depth, parsing) uint8 [size, size] for a face crop made at ``crop_scale`` around its box."""
    grid = (np.arange(size) + 0.5) / size
    y, x = np.meshgrid(grid, grid, indexing="ij")
    half_box = 0.5 / crop_scale  # the detector's box, in crop units
    cx, cy, a, b = 0.5, 0.52, 0.95 * half_box, 1.25 * half_box  # the head is taller than the box
    r2 = ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2
    head = r2 < 1.0
    depth = np.where(head, 64 + 191 * np.sqrt(np.clip(1.0 - r2, 0.0, 1.0)), 0).astype(np.uint8)

    def ellipse(ex: float, ey: float, ea: float, eb: float) -> np.ndarray:
        return ((x - ex) / ea) ** 2 + ((y - ey) / eb) ** 2 < 1.0

    parsing = np.zeros((size, size), np.uint8)
    parsing[head] = PARSING_CLASSES.index("skin")
    parsing[head & (y < cy - 0.62 * b)] = PARSING_CLASSES.index("hair")
    for side in (-1, 1):
        eye_x = cx + side * 0.42 * a
        parsing[ellipse(eye_x, cy - 0.30 * b, 0.22 * a, 0.07 * b)] = PARSING_CLASSES.index("brows")
        parsing[ellipse(eye_x, cy - 0.15 * b, 0.20 * a, 0.07 * b)] = PARSING_CLASSES.index("eyes")
    parsing[ellipse(cx, cy + 0.08 * b, 0.12 * a, 0.20 * b)] = PARSING_CLASSES.index("nose")
    parsing[ellipse(cx, cy + 0.48 * b, 0.30 * a, 0.08 * b)] = PARSING_CLASSES.index("mouth")
    return depth, parsing


def pseudo_maps(label: np.ndarray, size: int, crop_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Depth and parsing [N, size, size] for crops of these labels: the face template for bona fide
    (label 1), zeros for attacks. Made when the cache is loaded, not stored in it."""
    bona_fide = np.asarray(label) == 1
    maps = []
    for template in face_templates(size, crop_scale):
        rows = np.zeros((len(bona_fide), size, size), np.uint8)
        rows[bona_fide] = template
        maps.append(rows)
    return maps[0], maps[1]
