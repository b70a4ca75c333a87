"""The prepared-dataset cache: resumable shards of face crops plus a manifest, and ``load_prepared``.

Layout of ``<vault>/.vaultlab/cache/datasets/<name>/`` (or ``prepare --out DIR``)::

    manifest.json    settings, record digest, one entry per finished shard, complete flag
    protocols.json   the dataset's official protocol lists (video ids per split)
    videos.json      per-video facts parsed from file names (phone, session, quality, support, …)
    shards/shard-00000.npz …   SampleSet files of ``shard_size`` videos each (crops and labels; the pseudo
                               depth and parsing maps are made at load), written atomically

A shard file exists only once it is whole, so a killed prepare resumes at the first missing shard.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vaultlab.data.protocols_real import OCIM_LETTERS
from vaultlab.data.real.layouts import canonical_name
from vaultlab.data.real.pseudo import pseudo_maps
from vaultlab.data.real.records import VideoRecord
from vaultlab.data.sampleset import SampleSet

MANIFEST = "manifest.json"
PROTOCOLS = "protocols.json"
VIDEOS = "videos.json"
SHARD_DIR = "shards"
FORMAT_VERSION = 2  # 2: shards hold no pseudo depth or parsing maps (made at load from the labels)
# what each shard's manifest entry lists about its videos; merged into the manifest's top level on completion
SHARD_LISTS = {"skipped": list, "damaged": dict, "centre_fallbacks": dict, "dropped_no_face": list, "short_videos": dict}
OCIM_NAME = "ocim"


class PreparedDataError(RuntimeError):
    """A prepared dataset that is missing, unfinished or inconsistent (message says what to run)."""


def dataset_cache_dir(vault_root: Path, name: str) -> Path:
    return Path(vault_root) / ".vaultlab" / "cache" / "datasets" / canonical_name(name)


def shard_path(cache_dir: Path, index: int) -> Path:
    return cache_dir / SHARD_DIR / f"shard-{index:05d}.npz"


def records_digest(records: list[VideoRecord]) -> str:
    """Changes when the set of videos or any label, PAI, split or subject changes."""
    h = hashlib.sha1()
    for r in records:
        h.update(f"{r.video_id}\t{r.label}\t{r.pai}\t{r.split}\t{r.subject}\n".encode())
    return h.hexdigest()


def read_manifest(cache_dir: Path) -> dict[str, Any] | None:
    path = cache_dir / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise PreparedDataError(f"{path}: damaged manifest ({err}); rerun `vaultlab data prepare` with --force") from None


@dataclass
class PreparedSummary:
    name: str
    cache_dir: Path
    complete: bool
    videos_done: int
    videos_total: int
    images: int
    frames: str
    size: int
    depth_source: str
    centre_fallback_videos: int = 0  # videos kept with at least one centre-fallback crop
    centre_crops: int = 0
    damaged: int = 0  # videos whose frames did not all decode (kept or skipped)
    dropped_no_face: int = 0


def summarise_prepared(cache_dir: Path) -> PreparedSummary | None:
    manifest = read_manifest(cache_dir)
    if manifest is None:
        return None
    shards = manifest.get("shards", {}).values()
    settings = manifest.get("settings", {})
    return PreparedSummary(
        name=manifest.get("name", cache_dir.name), cache_dir=cache_dir, complete=bool(manifest.get("complete")),
        videos_done=sum(s["videos"] for s in shards), videos_total=int(manifest.get("n_videos", 0)),
        images=sum(s["images"] for s in shards), frames=settings.get("frames", "?"), size=int(settings.get("size", 0)),
        depth_source=settings.get("depth_source", "?"),
        centre_fallback_videos=len(merged_shard_list(manifest, "centre_fallbacks")),
        centre_crops=sum(s.get("centre_crops", 0) for s in shards), damaged=len(merged_shard_list(manifest, "damaged")),
        dropped_no_face=len(merged_shard_list(manifest, "dropped_no_face")),
    )


def merged_shard_list(manifest: dict[str, Any], key: str) -> dict | list:
    """One of ``SHARD_LISTS`` merged over the shards written so far (also for a partial prepare)."""
    kind = SHARD_LISTS[key]
    merged = kind()
    for index in sorted(manifest.get("shards", {})):
        part = manifest["shards"][index].get(key, kind())
        (merged.update if kind is dict else merged.extend)(part)
    return merged


def face_crop_note(name: str, face_stats: dict[str, int], centre_fallbacks: dict[str, list[int]], damaged: dict[str, dict]) -> list[str]:
    """The sentences a result note states about how the crops of a prepared dataset were made."""
    images, centre = face_stats.get("images", 0), face_stats.get("centre_crops", 0)
    if centre:
        notes = [f"Face crops of {name}: {centre} of {images} are centre fallbacks (no face found at or near the sampled frame), "
                 f"in {len(centre_fallbacks)} video{'' if len(centre_fallbacks) == 1 else 's'} listed in the cache manifest; "
                 f"{face_stats.get('substituted_nearest_face', 0)} took the nearest frame with a face."]
    else:
        notes = [f"Face crops of {name}: none of the {images} is a centre fallback (a face was found at or near every sampled frame); "
                 f"{face_stats.get('substituted_nearest_face', 0)} took the nearest frame with a face."]
    kept_damaged = [v for v, facts in damaged.items() if not facts.get("skipped")]
    if kept_damaged:
        notes.append(f"Damaged videos of {name} (fewer frames decode than their container states), sampled on the frames "
                     f"that decode: {len(kept_damaged)}.")
    return notes


def load_prepared(name: str, vault_root: Path | None = None, *, cache_dir: Path | None = None) -> SampleSet:
    """The prepared dataset ``name`` as one SampleSet (``domain`` = dataset name, label 1 = bona fide).

    ``name`` ``ocim`` joins the four prepared OCIM datasets (O, C, I, M) for the ``ocim`` protocols;
    their ``video`` and ``subject`` values are then prefixed with the dataset name.
    """
    if canonical_name(name) == OCIM_NAME:
        if vault_root is None:
            raise PreparedDataError("ocim joins four prepared datasets; pass the vault root")
        return join_datasets([load_prepared(ds, vault_root) for ds in OCIM_LETTERS.values()], name=OCIM_NAME)
    if cache_dir is None:
        if vault_root is None:
            raise PreparedDataError(f"load_prepared({name!r}) needs a vault root or a cache_dir")
        cache_dir = dataset_cache_dir(vault_root, name)
    cache_dir = Path(cache_dir)
    manifest = read_manifest(cache_dir)
    if manifest is None:
        raise PreparedDataError(f"{cache_dir}: no prepared dataset {name!r} here; run `vaultlab data prepare {canonical_name(name)} --root PATH` first")
    if not manifest.get("complete"):
        raise PreparedDataError(f"{cache_dir}: the prepare of {name!r} did not finish; rerun `vaultlab data prepare {manifest.get('name', name)}` to resume it")
    parts = []
    for key in sorted(manifest["shards"]):
        path = cache_dir / manifest["shards"][key]["file"]
        if not path.is_file():
            raise PreparedDataError(f"{path}: shard missing from a finished cache; rerun `vaultlab data prepare {manifest['name']}` to rebuild it")
        if manifest["shards"][key]["images"]:
            parts.append(SampleSet.load(path))
    if not parts:
        raise PreparedDataError(f"{cache_dir}: the prepared dataset {name!r} holds no images")
    settings = manifest["settings"]
    if any(part.depth is not None for part in parts):  # shards of format 1 store the maps: the others' are made
        parts = [with_pseudo_maps(part, settings) for part in parts]
    data = with_pseudo_maps(concatenate(parts), settings)
    frame_indices = {video: frames for part in parts for video, frames in part.meta.get("frame_indices", {}).items()}
    data.meta = {
        "name": manifest["name"], "layout": manifest["layout"], "root": manifest["root"], "source": "prepared",
        "frames": settings["frames"], "image_size": settings["size"], "crop_scale": settings["crop_scale"],
        "face_detector": settings["detector"], "depth_source": settings["depth_source"],
        "parsing_source": settings["parsing_source"], "parsing_classes": settings["parsing_classes"],
        "face_stats": manifest.get("face_stats", {}), "skipped": manifest.get("skipped", []),
        "damaged": manifest.get("damaged", {}), "centre_fallbacks": manifest.get("centre_fallbacks", {}),
        "dropped_no_face": manifest.get("dropped_no_face", []),
        "protocol_lists": _read_json(cache_dir / PROTOCOLS, {}), "videos": _read_json(cache_dir / VIDEOS, {}),
        "frame_indices": frame_indices,
        "data_notes": face_crop_note(manifest["name"], manifest.get("face_stats", {}), manifest.get("centre_fallbacks", {}),
                                     manifest.get("damaged", {})),
    }
    return data


def with_pseudo_maps(part: SampleSet, settings: dict[str, Any]) -> SampleSet:
    """The crops with their depth and parsing maps, made from the labels unless stored (format 1)."""
    if part.depth is None:
        part.depth, part.parsing = pseudo_maps(part.label, int(settings["size"]), float(settings["crop_scale"]))
    return part


def concatenate(parts: list[SampleSet]) -> SampleSet:
    def column(name: str) -> np.ndarray | None:
        values = [getattr(p, name) for p in parts]
        if any(v is None for v in values):
            return None
        return np.concatenate(values)

    names = ("images", "label", "pai", "domain", "subject", "video", "split", "depth", "parsing")
    return SampleSet(**{n: column(n) for n in names}, meta=dict(parts[0].meta))


def join_datasets(sets: list[SampleSet], name: str) -> SampleSet:
    """Several prepared datasets as one (same crop size required); ids get a ``<dataset>/`` prefix."""
    sizes = {s.meta["name"]: s.image_size for s in sets}
    if len(set(sizes.values())) > 1:
        raise PreparedDataError(f"cannot join {', '.join(sizes)}: prepared at different sizes {sizes}; prepare them with one --size")
    renamed = []
    for s in sets:
        prefix = np.char.add(f"{s.meta['name']}/", s.video.astype("U"))
        subject = np.char.add(f"{s.meta['name']}/", s.subject.astype("U"))
        renamed.append(SampleSet(s.images, s.label, s.pai, s.domain, subject, prefix, s.split, s.depth, s.parsing, meta={}))
    joined = concatenate(renamed)
    first = sets[0].meta
    joined.meta = {
        "name": name, "source": "prepared", "datasets": [s.meta["name"] for s in sets],
        "frames": sorted({s.meta["frames"] for s in sets}), "image_size": first["image_size"],
        "depth_source": first["depth_source"], "parsing_source": first["parsing_source"],
        "parsing_classes": first["parsing_classes"], "data_notes": [n for s in sets for n in s.meta.get("data_notes", [])],
    }
    return joined


def _read_json(path: Path, default: Any) -> Any:
    return json.loads(path.read_text()) if path.is_file() else default
