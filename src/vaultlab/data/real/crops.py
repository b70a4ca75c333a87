"""One presentation (video or still image) → its face crops, and what went wrong on the way.

Per video: index the packets (no decoding), sample frame indices by the named convention on the
frame count the container states, decode those frames (seeking), find the face (Haar, on the
frame's luma plane), convert only the crop's square to RGB and resize. A sampled frame without a face takes the crop of the nearest frame within
±``NEIGHBOUR_WINDOW`` that has one; failing that, a centre crop, and the frame is listed.

A video whose frames do not all decode — fewer packets than the container states, or a sampled
frame that does not come out — is *damaged*: it is decoded in full once to learn which frames
exist, the convention is applied to those instead, and the result records ``declared``,
``decoded``, ``requested`` and ``kept`` frames, so nothing past the real end is sampled unsaid.

Nothing here decides what to keep: ``prepare.py`` drops, skips or keeps by the user's flags. This
module is what worker processes import (``workers.py``), so it stays free of the cache and protocol modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vaultlab.data.real import celeba_spoof
from vaultlab.data.real.faces import NEAR_SIZE, Box, FaceDetector, centre_square, crop_resized, square_around
from vaultlab.data.real.records import VideoRecord
from vaultlab.data.real.sampling import FrameConvention, asks_past_end, parse_frame_convention, sampled_frame_indices
from vaultlab.data.real.video import (
    UnreadableMediaError,
    VideoIndex,
    decodable_frames,
    index_video,
    iter_pictures,
    read_image,
)

NEIGHBOUR_WINDOW = 25  # frames searched either side of a face-less sampled frame (1 s at 25 fps)


@dataclass
class VideoCrops:
    images: np.ndarray  # uint8 [k, size, size, 3]
    frame_indices: list[int]
    substituted: int = 0  # sampled frames that took the nearest frame with a face
    centre_frames: list[int] = field(default_factory=list)  # sampled frames with no face near them: centre crops
    damage: dict | None = None  # {"declared", "decoded", "requested", "kept"} when not every frame decodes
    short_of: int = 0  # frames of a video too short for the convention (its indices were clamped); 0 = long enough

    @property
    def centre_crops(self) -> int:
        return len(self.centre_frames)


@dataclass(frozen=True)
class CropSpec:
    frames: str
    size: int
    crop_scale: float

    @property
    def convention(self) -> FrameConvention:
        return parse_frame_convention(self.frames)


def crop_presentation(record: VideoRecord, spec: CropSpec, detector: FaceDetector) -> VideoCrops:
    """The crops of one video or image; ``UnreadableMediaError`` (naming the file) when nothing decodes."""
    if record.is_image:
        return _crop_image(record, spec, detector)
    convention = spec.convention
    rotation = int(record.extra.get("rotate_degrees", 0))
    index = index_video(record.path)
    stated = index.declared or index.packets
    requested = sampled_frame_indices(convention, stated)
    if not requested:
        raise UnreadableMediaError(f"{record.path}: the video has no frames; check the file or rerun with --skip-bad")
    cropper = _FrameCropper(record.path, index, rotation, detector, spec)
    cropper.crop(requested)
    damage, n_frames = None, stated
    if index.packets != stated or set(cropper.crops) != set(requested):
        decodable = decodable_frames(record.path, index)
        if not decodable:
            raise UnreadableMediaError(f"{record.path}: no frame decodes (the container states {stated}); "
                                       "check the file or rerun with --skip-bad")
        kept = [decodable[i] for i in sampled_frame_indices(convention, len(decodable))]
        damage = {"declared": stated, "decoded": len(decodable), "requested": requested, "kept": kept}
        cropper.crop(kept)
        cropper.forget([i for i in requested if i not in kept])
        cropper.usable = set(decodable)
        n_frames = len(decodable)
    if not cropper.crops:
        raise UnreadableMediaError(f"{record.path}: no sampled frame decodes; check the file or rerun with --skip-bad")
    substituted = cropper.fill_faceless_from_neighbours()
    order = sorted(cropper.crops)
    return VideoCrops(np.stack([cropper.crops[i] for i in order]), order, substituted, sorted(cropper.faceless), damage,
                      short_of=n_frames if asks_past_end(convention, n_frames) else 0)


class _FrameCropper:
    """Crops of sampled frames of one video, with the nearest-face fallback for face-less ones."""

    def __init__(self, path: Path, index: VideoIndex, rotation: int, detector: FaceDetector, spec: CropSpec) -> None:
        self.path, self.index, self.rotation, self.detector, self.spec = path, index, rotation, detector, spec
        self.crops: dict[int, np.ndarray] = {}
        self.faceless: set[int] = set()
        self.usable: set[int] | None = None  # frames known to decode (set for damaged videos)
        self.at_least = 0  # the detector first looks for faces this big: NEAR_SIZE × the last face found

    def face(self, picture) -> Box | None:
        box = self.detector.largest_face_in_grey(picture.gray(), self.at_least)
        if box is not None:
            self.at_least = int(NEAR_SIZE * max(box[2], box[3]))
        return box

    def crop(self, indices: list[int]) -> None:
        todo = [i for i in indices if i not in self.crops]
        for i, picture in iter_pictures(self.path, todo, self.index, self.rotation):
            box = self.face(picture)
            if box is None:
                self.faceless.add(i)
                self.crops[i] = crop_resized(picture, centre_square(picture), self.spec.size)  # replaced if a neighbour has a face
            else:
                self.crops[i] = crop_resized(picture, square_around(box, self.spec.crop_scale), self.spec.size)

    def forget(self, indices: list[int]) -> None:
        for i in indices:
            self.crops.pop(i, None)
            self.faceless.discard(i)

    def fill_faceless_from_neighbours(self) -> int:
        """Give each face-less sampled frame the crop of the nearest frame (±window) with a face; returns how many."""
        if not self.faceless:
            return 0
        wanted = sorted({j for i in self.faceless for j in range(max(0, i - NEIGHBOUR_WINDOW), i + NEIGHBOUR_WINDOW + 1)
                         if j != i and j < self.index.packets and (self.usable is None or j in self.usable)})
        best: dict[int, tuple[int, np.ndarray]] = {}
        for j, picture in iter_pictures(self.path, wanted, self.index, self.rotation):
            near = [i for i in self.faceless if abs(j - i) <= NEIGHBOUR_WINDOW and (i not in best or abs(j - i) < best[i][0])]
            if not near:
                continue
            box = self.face(picture)
            if box is not None:
                crop = crop_resized(picture, square_around(box, self.spec.crop_scale), self.spec.size)
                for i in near:
                    best[i] = (abs(j - i), crop)
        for i, (_, crop) in best.items():
            self.crops[i] = crop
            self.faceless.discard(i)
        return len(best)


def _crop_image(record: VideoRecord, spec: CropSpec, detector: FaceDetector) -> VideoCrops:
    rgb = read_image(record.path)
    box = None
    box_file = Path(record.extra["_box_file"]) if "_box_file" in record.extra else None
    if box_file is not None and box_file.is_file():
        given = celeba_spoof.parse_box(box_file.read_text())
        if given is not None:
            box = celeba_spoof.scale_box(given, rgb.shape[1], rgb.shape[0])
    if box is None:
        box = detector.largest_face(rgb)
    square = centre_square(rgb) if box is None else square_around(box, spec.crop_scale)
    return VideoCrops(crop_resized(rgb, square, spec.size)[None], [0], 0, [0] if box is None else [])


def crop_or_message(record: VideoRecord, spec: CropSpec, detector: FaceDetector) -> VideoCrops | str:
    """The crops, or the unreadable-media message as a value (an exception would end the prepare's
    stream of results, losing the videos finished after it that a worker already holds)."""
    try:
        return crop_presentation(record, spec, detector)
    except UnreadableMediaError as err:
        return str(err)
