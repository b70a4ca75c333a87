"""Face boxes and crops, offline: OpenCV's frontal-face Haar cascade shipped inside opencv-python.

The FAS literature uses MTCNN or RetinaFace; neither ships weights we may use offline without a
download, so vaultlab uses the cascade in ``cv2.data.haarcascades`` (opencv-python 4.x; 5.x ships
none) and records it, with its search settings, in the manifest. The search runs on the frame shrunk
by a whole factor (a box average, ``box_shrunk``) to a long side of at most ``DETECTION_SIDE``,
and looks only for faces of at least ``MIN_FACE_FRACTION`` of the short side: FAS recordings film
one face close to the camera, and the small scales are where a cascade spends its time. At 240 px a
1080p frame's face search costs about 5 ms of CPU (320 px: 7 ms; 480 px and a tenth of the side took
2–5× as long); a face of a fifth of the short side still spans 27 px there, above the cascade's 24-px
window. A smaller face is missed and its video listed as face-less, never silently. Within a video, each
frame is searched first for faces of at least ``NEAR_SIZE`` of the last face found (the small scales,
where the search costs most, are skipped), and in full only when none is: the same largest face
whenever it is that big (in a FAS recording it mostly is), for 1 ms less per frame. Crops are square
around the box centre, ``crop_scale`` × the box side (1.3, the test-time scale of CDCN and SSAN),
zero-padded at the frame edge like Bob's FaceCrop, and shrunk in two steps (``crop_resized``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vaultlab.data.real.video import rgb_square_of

CASCADE_FILE = "haarcascade_frontalface_default.xml"
DETECTION_SIDE = 240  # frames are shrunk by a whole factor so their long side is at most this before detection (speed)
MIN_FACE_FRACTION = 0.2  # smallest face searched, as a fraction of the frame's short side
NEAR_SIZE = 0.7  # a video's next sampled frame is searched first for faces of at least this × the last face found
# video frames are searched on their decoded luma plane (images on OpenCV's grey of the RGB): part of the
# name, so a cache prepared before that change is not resumed with crops made the other way
DETECTOR_NAME = (f"haar-frontalface-default (shrunk by a whole factor, in halving steps, to a long side ≤ {DETECTION_SIDE} px, faces ≥ "
                 f"{MIN_FACE_FRACTION:g} of the short side, videos searched on their luma plane, first for faces ≥ "
                 f"{NEAR_SIZE:g} of the last one found)")
CROP_RESIZE = "box average (video: in YUV 4:2:0) by the whole factor leaving 1-2x the output side, then area resize"  # in the manifest

Box = tuple[int, int, int, int]  # x, y, w, h in pixels


class FaceDetector:
    def __init__(self, min_face_fraction: float = MIN_FACE_FRACTION, min_neighbors: int = 5) -> None:
        import cv2

        cascade_path = Path(cv2.data.haarcascades) / CASCADE_FILE
        self._cascade = cv2.CascadeClassifier(str(cascade_path))
        if self._cascade.empty():
            raise RuntimeError(f"{cascade_path}: OpenCV's Haar cascade is missing; install opencv-python-headless 4.x (5.x ships none)")
        self.min_face_fraction = min_face_fraction
        self.min_neighbors = min_neighbors

    def largest_face(self, rgb: np.ndarray) -> Box | None:
        import cv2

        return self.largest_face_in_grey(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))

    def largest_face_in_grey(self, grey: np.ndarray, at_least: int = 0) -> Box | None:
        """The largest face in a grey (or luma) uint8 frame, in that frame's pixels.

        ``at_least`` (pixels; the face found in an earlier frame of the video, times ``NEAR_SIZE``)
        first searches only faces of that side or more, where the cascade spends least: the largest
        face, if it is that big; failing that, the whole search runs."""
        k = -(-max(grey.shape[:2]) // DETECTION_SIDE)
        grey = box_shrunk(grey, k)
        min_side = max(12, int(self.min_face_fraction * min(grey.shape)))
        for smallest in ([at_least // k] if at_least // k > min_side else []) + [min_side]:
            found = self._cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=self.min_neighbors, minSize=(smallest, smallest))
            if len(found):
                x, y, w, h = max(found.tolist(), key=lambda b: b[2] * b[3])
                return x * k, y * k, w * k, h * k
        return None


def box_shrunk(grey: np.ndarray, k: int) -> np.ndarray:
    """A uint8 plane box-averaged by the whole factor ``k`` (its last ``h % k`` rows and ``w % k``
    columns dropped): halved for each factor 2 of ``k`` (OpenCV's vectorised 2×2 average), then
    area-resized by the odd rest. Rounding at each step leaves it within 2 grey levels of one k×k
    average (measured, k = 8), at a third of the cost for a 1080p frame (0.35 instead of 1.1 ms)."""
    import cv2

    height, width = grey.shape[:2]
    grey = grey[: height - height % k, : width - width % k]
    while k % 2 == 0:
        grey = cv2.resize(grey, (grey.shape[1] // 2, grey.shape[0] // 2), interpolation=cv2.INTER_AREA)
        k //= 2
    return cv2.resize(grey, (grey.shape[1] // k, grey.shape[0] // k), interpolation=cv2.INTER_AREA) if k > 1 else grey


def square_around(box: Box, crop_scale: float) -> Box:
    """The square of side ``crop_scale · max(w, h)`` centred on ``box``."""
    x, y, w, h = box
    side = max(1, round(max(w, h) * crop_scale))
    cx, cy = x + w / 2, y + h / 2
    return round(cx - side / 2), round(cy - side / 2), side, side


def crop_resized(source, square: Box, size: int) -> np.ndarray:
    """Cut ``square`` out of ``source`` (black where it leaves the frame) and resize to size×size.

    ``source`` is an RGB array or a decoded ``video.Picture`` (which shrinks the square in YUV and
    converts only that to RGB). A square more than twice ``size`` is first box-averaged by the whole
    factor k that leaves it at least ``size`` (its centred part whose side is a multiple of 2k: under
    2k pixels go), then area-resized, at a third of the cost of one area resize of the RGB square
    (the two steps alone differ from it by 0.6 of 255 on average on 1080p faces; the YUV cut adds
    the converters' rounding and chroma averaged over 2k instead of k pixels)."""
    import cv2

    x, y, side, _ = square
    k = max(1, side // size)
    usable = max(2 * k, side - side % (2 * k))  # 4:2:0 chroma: a whole number of chroma pixels per box
    x, y = x + (side - usable) // 2, y + (side - usable) // 2
    shrunk = rgb_square_of(source, x, y, usable, k) if isinstance(source, np.ndarray) else source.rgb_square(x, y, usable, k)
    interpolation = cv2.INTER_AREA if shrunk.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(shrunk, (size, size), interpolation=interpolation)


def centre_square(image) -> Box:
    """The largest centred square of an array or ``video.Picture`` (anything with ``shape``)."""
    height, width = image.shape[:2]
    side = min(height, width)
    return (width - side) // 2, (height - side) // 2, side, side
