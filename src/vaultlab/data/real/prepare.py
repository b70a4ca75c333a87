"""``vaultlab data prepare``: official tree → face crops in resumable shards (see cache.py).

Videos are cropped in parallel worker processes (``crops.py`` holds what one video goes through)
and come back in record order, so the shards hold the same crops whatever the number of workers.
A shard is written, with its manifest entry, as soon as its videos are in; a killed or failed
prepare resumes at the first unfinished shard.

What the user decides here, per video:
- unreadable (nothing decodes): an error naming the file, or skipped and listed with ``skip_bad``;
- damaged (fewer frames decode than the container states): kept with the frames that exist and
  listed with what was requested and kept, or skipped and listed with ``skip_bad``;
- face-less (a sampled frame fell back to a centre crop): kept and listed, or dropped and listed
  with ``require_face``;
- too short for the convention (6+mid on fewer than 13 frames): kept, indices clamped, listed.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vaultlab.data.real.cache import (
    FORMAT_VERSION,
    MANIFEST,
    PROTOCOLS,
    SHARD_DIR,
    SHARD_LISTS,
    VIDEOS,
    PreparedDataError,
    merged_shard_list,
    read_manifest,
    records_digest,
    shard_path,
)
from vaultlab.data.real.crops import CropSpec, VideoCrops, crop_or_message
from vaultlab.data.real.faces import CROP_RESIZE, DETECTOR_NAME, FaceDetector
from vaultlab.data.real.layouts import discover_dataset
from vaultlab.data.real.pseudo import DEPTH_SOURCE, PARSING_CLASSES, PARSING_SOURCE
from vaultlab.data.real.records import VideoRecord
from vaultlab.data.real.sampling import parse_frame_convention
from vaultlab.data.real.video import UnreadableMediaError, keep_decoder_memory
from vaultlab.data.real.workers import crop_in_workers
from vaultlab.data.sampleset import SampleSet
from vaultlab.runs import write_json_atomic

DEFAULT_SHARD_SIZE = 32  # videos per shard


def default_workers() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass(frozen=True)
class PrepareSettings:
    frames: str = "6+mid"
    size: int = 224
    crop_scale: float = 1.3
    shard_size: int = DEFAULT_SHARD_SIZE

    def as_manifest(self) -> dict:
        return {"frames": parse_frame_convention(self.frames).text, "size": self.size, "crop_scale": self.crop_scale,
                "shard_size": self.shard_size, "detector": DETECTOR_NAME, "crop_resize": CROP_RESIZE, "depth_source": DEPTH_SOURCE,
                "parsing_source": PARSING_SOURCE, "parsing_classes": PARSING_CLASSES}

    @property
    def crop_spec(self) -> CropSpec:
        return CropSpec(parse_frame_convention(self.frames).text, self.size, self.crop_scale)


@dataclass
class PrepareReport:
    """This run's work (videos, images, seconds) and the whole cache's findings (from the manifest)."""

    name: str
    cache_dir: Path
    videos: int = 0
    videos_resumed: int = 0
    images: int = 0
    seconds: float = 0.0
    workers: int = 1
    substituted: int = 0
    centre_crops: int = 0
    skipped: list[str] = field(default_factory=list)  # paths: unreadable, or damaged with skip_bad
    damaged: dict[str, dict] = field(default_factory=dict)  # video id → declared, decoded, requested, kept (+ skipped)
    centre_fallbacks: dict[str, list[int]] = field(default_factory=dict)  # video id → frames cropped at the centre
    dropped_no_face: list[str] = field(default_factory=list)  # video ids dropped by require_face
    short_videos: dict[str, int] = field(default_factory=dict)  # video id → frames, for the convention's clamp
    warnings: list[str] = field(default_factory=list)  # from the layout (e.g. OULU list tokens), file:line first

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds else 0.0


def shard_sampleset(records: list[VideoRecord], crops: list[VideoCrops], size: int) -> SampleSet:
    """One shard's crops and labels; the pseudo depth and parsing maps are not stored (``load_prepared``
    makes them from the label: two thirds as many bytes again, the same for every crop)."""
    rows = [(r, c) for r, c in zip(records, crops) for _ in c.frame_indices]
    if not rows:
        empty = np.zeros((0,), "U1")
        return SampleSet(np.zeros((0, size, size, 3), np.uint8), np.zeros((0,), np.int64), empty, empty, empty, empty, empty)
    return SampleSet(
        images=np.concatenate([c.images for c in crops if len(c.frame_indices)]),
        label=np.array([r.label for r, _ in rows], np.int64),
        pai=np.array([r.pai for r, _ in rows]), domain=np.array([r.dataset for r, _ in rows]),
        subject=np.array([r.subject for r, _ in rows]), video=np.array([r.video_id for r, _ in rows]),
        split=np.array([r.split for r, _ in rows]),
        meta={"frame_indices": {r.video_id: c.frame_indices for r, c in zip(records, crops)}},
    )


def crop_all(records: list[VideoRecord], spec: CropSpec, workers: int) -> Iterator[VideoCrops | str]:
    """Each record's crops (or its unreadable-media message), in record order, from ``workers`` processes.

    Closing the iterator early (an error, Ctrl-C) stops the workers."""
    if not records:
        return
    if workers <= 1:
        import cv2

        threads = cv2.getNumThreads()
        cv2.setNumThreads(1)  # one process, one core: the same work per video as in a worker
        keep_decoder_memory()
        detector = FaceDetector()
        try:
            for record in records:
                yield crop_or_message(record, spec, detector)
        finally:
            cv2.setNumThreads(threads)
        return
    yield from crop_in_workers(records, spec, workers)


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
    workers: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> PrepareReport:
    """Prepare (or resume preparing) dataset ``name`` from the official tree at ``root`` into ``cache_dir``.

    ``workers`` processes crop the videos (default: the cores available); the output does not
    depend on it. ``on_progress(done, total)`` is called after each video. Errors name the file;
    shards finished before an error stay on disk and a rerun resumes after them.
    """
    start = time.perf_counter()
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
    manifest["warnings"] = found.warnings
    write_json_atomic(cache_dir / MANIFEST, manifest)

    workers = max(1, workers or default_workers())
    report = PrepareReport(name=name, cache_dir=cache_dir, workers=workers)
    shard_size = settings.shard_size
    batches = [(f"{i:05d}", i, records[first : first + shard_size]) for i, first in enumerate(range(0, len(records), shard_size))]
    todo = [(key, i, batch) for key, i, batch in batches if not (key in manifest["shards"] and shard_path(cache_dir, i).is_file())]
    report.videos_resumed = len(records) - sum(len(batch) for _, _, batch in todo)
    done = report.videos_resumed
    if on_progress:
        on_progress(done, len(records))
    results = crop_all([r for _, _, batch in todo for r in batch], settings.crop_spec, workers)
    try:
        for key, shard_index, batch in todo:
            kept, crops = [], []
            entry: dict = {name: kind() for name, kind in SHARD_LISTS.items()}
            for record in batch:
                result = next(results)
                done += 1
                if on_progress:
                    on_progress(done, len(records))
                if _keep(record, result, entry, skip_bad=skip_bad, require_face=require_face):
                    kept.append(record)
                    crops.append(result)
            shard = shard_sampleset(kept, crops, settings.size)
            path = shard_path(cache_dir, shard_index)
            shard.save(path)
            entry |= {"file": str(path.relative_to(cache_dir)), "videos": len(kept), "images": len(shard),
                      "substituted": sum(c.substituted for c in crops), "centre_crops": sum(c.centre_crops for c in crops)}
            manifest["shards"][key] = entry
            write_json_atomic(cache_dir / MANIFEST, manifest)
            report.videos += len(kept)
            report.images += len(shard)
    finally:
        results.close()

    shards = [manifest["shards"][k] for k in sorted(manifest["shards"])]
    for list_name in SHARD_LISTS:
        manifest[list_name] = merged_shard_list(manifest, list_name)
        setattr(report, list_name, manifest[list_name])
    report.substituted = sum(s["substituted"] for s in shards)
    report.centre_crops = sum(s["centre_crops"] for s in shards)
    report.warnings = found.warnings
    manifest["face_stats"] = {"images": sum(s["images"] for s in shards), "substituted_nearest_face": report.substituted,
                              "centre_crops": report.centre_crops, "centre_fallback_videos": len(manifest["centre_fallbacks"])}
    manifest["complete"] = True
    write_json_atomic(cache_dir / MANIFEST, manifest)
    report.seconds = time.perf_counter() - start
    return report


def _keep(record: VideoRecord, result: VideoCrops | str, entry: dict, *, skip_bad: bool, require_face: bool) -> bool:
    """Whether the video goes into the shard; what happened to it is written into the shard's manifest entry."""
    if isinstance(result, str):
        if not skip_bad:
            raise UnreadableMediaError(result)
        entry["skipped"].append(str(record.path))
        return False
    if result.damage is not None:
        if skip_bad:
            entry["damaged"][record.video_id] = result.damage | {"kept": [], "skipped": True}
            entry["skipped"].append(str(record.path))
            return False
        entry["damaged"][record.video_id] = result.damage
    if result.centre_frames:
        if require_face:
            entry["dropped_no_face"].append(record.video_id)
            return False
        entry["centre_fallbacks"][record.video_id] = result.centre_frames
    if result.short_of:
        entry["short_videos"][record.video_id] = result.short_of
    return True
