"""``vaultlab data prepare``: official tree → face crops in resumable shards (see cache.py).

Per video: sample frame indices by the named convention, decode them with PyAV, find the face
(Haar), crop and resize. A sampled frame without a face takes the crop of the nearest frame within
±``NEIGHBOUR_WINDOW`` that has one; failing that, a centre crop. Both fallbacks are counted and
written to the manifest; ``require_face`` makes the second an error naming the video.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vaultlab.data.real import celeba_spoof
from vaultlab.data.real.cache import (
    FORMAT_VERSION,
    MANIFEST,
    PROTOCOLS,
    SHARD_DIR,
    VIDEOS,
    PreparedDataError,
    read_manifest,
    records_digest,
    shard_path,
    write_json_atomic,
)
from vaultlab.data.real.faces import DETECTOR_NAME, FaceDetector, centre_square, crop_resized, square_around
from vaultlab.data.real.layouts import discover_dataset
from vaultlab.data.real.pseudo import DEPTH_SOURCE, PARSING_CLASSES, PARSING_SOURCE, pseudo_targets
from vaultlab.data.real.records import VideoRecord
from vaultlab.data.real.sampling import FrameConvention, parse_frame_convention, sampled_frame_indices
from vaultlab.data.real.video import UnreadableMediaError, count_frames, iter_frames, read_image
from vaultlab.data.sampleset import SampleSet

NEIGHBOUR_WINDOW = 25  # frames searched either side of a face-less sampled frame (1 s at 25 fps)
DEFAULT_SHARD_SIZE = 32  # videos per shard


class FaceNotFoundError(RuntimeError):
    """--require-face and a sampled frame with no face anywhere near it (message names the video)."""


@dataclass(frozen=True)
class PrepareSettings:
    frames: str = "6+mid"
    size: int = 224
    crop_scale: float = 1.3
    shard_size: int = DEFAULT_SHARD_SIZE

    def as_manifest(self) -> dict:
        return {"frames": parse_frame_convention(self.frames).text, "size": self.size, "crop_scale": self.crop_scale,
                "shard_size": self.shard_size, "detector": DETECTOR_NAME, "depth_source": DEPTH_SOURCE,
                "parsing_source": PARSING_SOURCE, "parsing_classes": PARSING_CLASSES}


@dataclass
class VideoCrops:
    images: np.ndarray  # uint8 [k, size, size, 3]
    frame_indices: list[int]
    substituted: int = 0  # sampled frames that took the nearest frame with a face
    centre_crops: int = 0  # sampled frames with no face near them


@dataclass
class PrepareReport:
    name: str
    cache_dir: Path
    videos: int = 0
    videos_resumed: int = 0
    images: int = 0
    substituted: int = 0
    centre_crops: int = 0
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds else 0.0


def crop_video(record: VideoRecord, convention: FrameConvention, detector: FaceDetector, size: int, crop_scale: float,
               require_face: bool = False) -> VideoCrops:
    if record.is_image:
        return _crop_image(record, detector, size, crop_scale, require_face)
    rotation = int(record.extra.get("rotate_degrees", 0))
    indices = sampled_frame_indices(convention, count_frames(record.path))
    if not indices:
        raise UnreadableMediaError(f"{record.path}: the video has no frames; check the file or rerun with --skip-bad")
    crops: dict[int, np.ndarray] = {}
    faceless: list[int] = []
    for index, rgb in iter_frames(record.path, indices, rotation):
        box = detector.largest_face(rgb)
        if box is None:
            faceless.append(index)
            crops[index] = crop_resized(rgb, centre_square(rgb), size)  # replaced below if a neighbour has a face
        else:
            crops[index] = crop_resized(rgb, square_around(box, crop_scale), size)
    if not crops:
        raise UnreadableMediaError(f"{record.path}: no frame decodes; check the file or rerun with --skip-bad")
    substituted = _nearest_face_crops(record, faceless, detector, size, crop_scale, rotation)
    for index, crop in substituted.items():
        crops[index] = crop
    centred = [i for i in faceless if i not in substituted]
    if centred and require_face:
        raise FaceNotFoundError(f"{record.path}: no face in frames {centred} nor within ±{NEIGHBOUR_WINDOW} frames; "
                                "check the video, or drop --require-face to use a centre crop")
    order = sorted(crops)
    return VideoCrops(np.stack([crops[i] for i in order]), order, len(substituted), len(centred))


def _nearest_face_crops(record: VideoRecord, faceless: list[int], detector: FaceDetector, size: int, crop_scale: float,
                        rotation: int) -> dict[int, np.ndarray]:
    """For each face-less sampled frame, the crop of the nearest frame (±window) where a face is found."""
    if not faceless:
        return {}
    wanted = sorted({j for i in faceless for j in range(max(0, i - NEIGHBOUR_WINDOW), i + NEIGHBOUR_WINDOW + 1) if j != i})
    best: dict[int, tuple[int, np.ndarray]] = {}
    for index, rgb in iter_frames(record.path, wanted, rotation):
        near = [i for i in faceless if abs(index - i) <= NEIGHBOUR_WINDOW and (i not in best or abs(index - i) < best[i][0])]
        if not near:
            continue
        box = detector.largest_face(rgb)
        if box is not None:
            crop = crop_resized(rgb, square_around(box, crop_scale), size)
            for i in near:
                best[i] = (abs(index - i), crop)
    return {i: crop for i, (_, crop) in best.items()}


def _crop_image(record: VideoRecord, detector: FaceDetector, size: int, crop_scale: float, require_face: bool) -> VideoCrops:
    rgb = read_image(record.path)
    box = None
    box_file = Path(record.extra["_box_file"]) if "_box_file" in record.extra else None
    if box_file is not None and box_file.is_file():
        given = celeba_spoof.parse_box(box_file.read_text())
        if given is not None:
            box = celeba_spoof.scale_box(given, rgb.shape[1], rgb.shape[0])
    if box is None:
        box = detector.largest_face(rgb)
    if box is None and require_face:
        raise FaceNotFoundError(f"{record.path}: no face box and none detected; check the image, or drop --require-face to use a centre crop")
    square = centre_square(rgb) if box is None else square_around(box, crop_scale)
    return VideoCrops(crop_resized(rgb, square, size)[None], [0], 0, int(box is None))


def shard_sampleset(records: list[VideoRecord], crops: list[VideoCrops], size: int, crop_scale: float) -> SampleSet:
    rows = [(r, c) for r, c in zip(records, crops) for _ in c.frame_indices]
    n = len(rows)
    if n == 0:
        empty = np.zeros((0,), "U1")
        return SampleSet(np.zeros((0, size, size, 3), np.uint8), np.zeros((0,), np.int64), empty, empty, empty, empty, empty,
                         np.zeros((0, size, size), np.uint8), np.zeros((0, size, size), np.uint8))
    targets = [pseudo_targets(r.label, size, crop_scale) for r, _ in rows]
    return SampleSet(
        images=np.concatenate([c.images for c in crops if len(c.frame_indices)]),
        label=np.array([r.label for r, _ in rows], np.int64),
        pai=np.array([r.pai for r, _ in rows]), domain=np.array([r.dataset for r, _ in rows]),
        subject=np.array([r.subject for r, _ in rows]), video=np.array([r.video_id for r, _ in rows]),
        split=np.array([r.split for r, _ in rows]),
        depth=np.stack([d for d, _ in targets]), parsing=np.stack([p for _, p in targets]),
        meta={"frame_indices": {r.video_id: c.frame_indices for r, c in zip(records, crops)}},
    )


def prepare_dataset(
    name: str,
    root: Path,
    cache_dir: Path,
    settings: PrepareSettings = PrepareSettings(),
    *,
    layout: str | None = None,
    layout_options: dict | None = None,
    require_face: bool = False,
    skip_bad: bool = False,
    force: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> PrepareReport:
    """Prepare (or resume preparing) dataset ``name`` from the official tree at ``root`` into ``cache_dir``.

    ``on_progress(done, total)`` is called after each video. Errors name the file; shards finished
    before an error stay on disk and a rerun resumes after them.
    """
    start = time.perf_counter()
    convention = parse_frame_convention(settings.frames)
    found = discover_dataset(layout or name, Path(root), layout_options)
    records = found.records
    wanted_settings = settings.as_manifest()
    digest = records_digest(records)
    cache_dir = Path(cache_dir)
    manifest = read_manifest(cache_dir)
    if manifest is not None and not force and (manifest.get("settings") != wanted_settings or manifest.get("records_digest") != digest):
        what = "settings" if manifest.get("settings") != wanted_settings else "list of videos"
        raise PreparedDataError(f"{cache_dir}: already holds {manifest.get('name')} prepared with another {what}; "
                                "rerun with --force to rebuild it, or choose another --out")
    if manifest is None or force:
        if (cache_dir / SHARD_DIR).exists():
            shutil.rmtree(cache_dir / SHARD_DIR)
        manifest = {"format": FORMAT_VERSION, "name": name, "layout": found.layout, "root": str(Path(root).resolve()),
                    "settings": wanted_settings, "records_digest": digest, "n_videos": len(records),
                    "shards": {}, "complete": False}
        write_json_atomic(cache_dir / PROTOCOLS, found.protocol_lists)
        write_json_atomic(cache_dir / VIDEOS, {r.video_id: {k: v for k, v in r.extra.items() if not k.startswith("_")} for r in records})
        write_json_atomic(cache_dir / MANIFEST, manifest)

    report = PrepareReport(name=name, cache_dir=cache_dir)
    detector = FaceDetector()
    shard_size = settings.shard_size
    done = 0
    for shard_index, first in enumerate(range(0, len(records), shard_size)):
        batch = records[first : first + shard_size]
        key = f"{shard_index:05d}"
        if key in manifest["shards"] and shard_path(cache_dir, shard_index).is_file():
            done += len(batch)
            report.videos_resumed += len(batch)
            if on_progress:
                on_progress(done, len(records))
            continue
        kept, crops, skipped = [], [], []
        for record in batch:
            try:
                video = crop_video(record, convention, detector, settings.size, settings.crop_scale, require_face)
            except UnreadableMediaError:
                if not skip_bad:
                    raise
                skipped.append(str(record.path))
            else:
                kept.append(record)
                crops.append(video)
            done += 1
            if on_progress:
                on_progress(done, len(records))
        shard = shard_sampleset(kept, crops, settings.size, settings.crop_scale)
        path = shard_path(cache_dir, shard_index)
        shard.save(path)
        manifest["shards"][key] = {
            "file": str(path.relative_to(cache_dir)), "videos": len(kept), "images": len(shard),
            "substituted": sum(c.substituted for c in crops), "centre_crops": sum(c.centre_crops for c in crops), "skipped": skipped,
        }
        write_json_atomic(cache_dir / MANIFEST, manifest)
        report.videos += len(kept)
        report.images += len(shard)
        report.substituted += manifest["shards"][key]["substituted"]
        report.centre_crops += manifest["shards"][key]["centre_crops"]
        report.skipped += skipped

    shards = manifest["shards"].values()
    manifest["face_stats"] = {"images": sum(s["images"] for s in shards), "substituted_nearest_face": sum(s["substituted"] for s in shards),
                              "centre_crops": sum(s["centre_crops"] for s in shards)}
    manifest["skipped"] = [p for s in shards for p in s["skipped"]]
    manifest["complete"] = True
    write_json_atomic(cache_dir / MANIFEST, manifest)
    report.seconds = time.perf_counter() - start
    return report
