"""Real-data pipeline speed: preprocessing frames/s, and loading crops from the cache at 224 px.

    python benchmarks/data_cache.py [--videos 12] [--frames 60] [--images 4096] [--batch 256]

1. Preprocessing: a Replay-Attack-shaped tree of synthetic 640×480 videos (drawn faces) goes
   through ``prepare_dataset`` at 224 px, once with ``6+mid`` and once with ``every:5``; prints
   decoded frames/s and crops/s (PyAV decode + Haar + crop + resize + pseudo maps + shard write).
2. Cache: a prepared cache of ``--images`` crops at 224 px is loaded with ``load_prepared``
   (img/s from disk, once per run), then shuffled batches are gathered from the uint8 arrays (what a
   GPU run ships; the engine converts on the device) and, on CPU, turned into float32 NCHW tensors
   in a reused buffer. Target: ≥ 5,000 img/s, so the cache never starves a GPU run. The engine's own
   ``Batches`` on CPU is printed for reference.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "data" / "real"))
from conftest import face_image, write_video  # noqa: E402  (the test fixtures' face drawing and encoder)

from vaultlab.data.real.cache import load_prepared  # noqa: E402
from vaultlab.data.real.prepare import PrepareSettings, prepare_dataset  # noqa: E402


def make_replay_like_tree(root: Path, videos: int, frames: int) -> None:
    """Real videos at 640×480 with a 240-px face moving slightly; the Replay-Attack file grammar."""
    base = np.full((480, 640, 3), 80, np.uint8)
    for v in range(videos):
        split = ("train", "devel", "test")[v % 3]
        clip = []
        for i in range(frames):
            frame = base.copy()
            frame[120 + (i % 5) : 360 + (i % 5), 200:440] = face_image(240, shift=(i % 3) - 1)
            clip.append(frame)
        write_video(root / split / "real" / f"client{v:03d}_session01_webcam_authenticate_adverse_1.mov", clip)
    for split in ("train", "devel", "test"):
        for support in ("fixed", "hand"):
            (root / split / "attack" / support).mkdir(parents=True, exist_ok=True)


def bench_prepare(tmp: Path, videos: int, frames: int) -> None:
    tree = tmp / "replay"
    make_replay_like_tree(tree, videos, frames)
    for convention in ("6+mid", "every:5"):
        cache = tmp / f"cache-{convention.replace(':', '-')}"
        report = prepare_dataset("replay-attack", tree, cache, PrepareSettings(frames=convention, size=224))
        data = load_prepared("replay-attack", cache_dir=cache)
        decoded = sum(max(idx) + 1 for idx in data.meta["frame_indices"].values())
        print(f"prepare {convention:8s}: {report.videos} videos 640x480, {decoded} frames decoded, {report.images} crops in "
              f"{report.seconds:.2f} s → {decoded / report.seconds:,.0f} decoded frames/s, {report.images_per_second:,.1f} crops/s")


def bench_cache(tmp: Path, n_images: int, batch: int) -> None:
    import torch

    from vaultlab.data.real.cache import shard_path, write_json_atomic
    from vaultlab.data.real.pseudo import pseudo_targets
    from vaultlab.data.sampleset import SampleSet

    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    cache = tmp / "cache-load"
    per_shard = 512
    shards = {}
    for s, first in enumerate(range(0, n_images, per_shard)):
        n = min(per_shard, n_images - first)
        label = rng.integers(0, 2, n)
        targets = [pseudo_targets(int(x), 224, 1.3) for x in label]
        ids = np.array([f"v{first + i}" for i in range(n)])
        part = SampleSet(rng.integers(0, 256, (n, 224, 224, 3), dtype=np.uint8), label.astype(np.int64), np.where(label == 1, "", "print"),
                         np.full(n, "bench"), ids, ids, np.full(n, "train"), np.stack([d for d, _ in targets]), np.stack([p for _, p in targets]))
        part.save(shard_path(cache, s))
        shards[f"{s:05d}"] = {"file": str(shard_path(cache, s).relative_to(cache)), "videos": n, "images": n, "substituted": 0, "centre_crops": 0, "skipped": []}
    settings = PrepareSettings(size=224).as_manifest()
    write_json_atomic(cache / "manifest.json", {"name": "bench", "layout": "generic", "root": "-", "settings": settings,
                                                "shards": shards, "complete": True, "n_videos": n_images})
    t0 = time.perf_counter()
    data = load_prepared("bench", cache_dir=cache)
    load_s = time.perf_counter() - t0
    print(f"cache load      : {len(data)} crops at 224 px (+ depth, parsing) in {load_s:.2f} s → {len(data) / load_s:,.0f} img/s")

    images = data.images
    uint8_batch = np.empty((batch, 224, 224, 3), np.uint8)
    float_batch = torch.empty((batch, 3, 224, 224), dtype=torch.float32).contiguous(memory_format=torch.channels_last)

    def one_epoch(to_float: bool) -> float:
        order = rng.permutation(len(images))
        t0 = time.perf_counter()
        seen = 0
        for first in range(0, len(order) - batch + 1, batch):
            np.take(images, np.sort(order[first : first + batch]), axis=0, out=uint8_batch)  # sorted: in-order reads
            if to_float:  # into a reused buffer: fresh float allocations cost more than the conversion itself
                float_batch.copy_(torch.from_numpy(uint8_batch).permute(0, 3, 1, 2)).mul_(1 / 255)
            seen += batch
        return seen / (time.perf_counter() - t0)

    for label, to_float in (("cache → uint8 batches (host side of a GPU run)", False), ("cache → float32 NCHW batches on CPU", True)):
        one_epoch(to_float)  # warm-up
        rate = max(one_epoch(to_float) for _ in range(2))
        print(f"{label:48s}: {rate:,.0f} img/s at 224 px, batch {batch} (target ≥ 5,000)")

    from vaultlab.engine.batches import Batches, BatchSpec

    batches = Batches(data, BatchSpec(batch_size=batch), torch.device("cpu"), shuffle=True)
    t0 = time.perf_counter()
    seen = sum(int(b["image"].shape[0]) for b in batches.epoch(0))
    print(f"{'engine Batches on CPU (float + normalise)':48s}: {seen / (time.perf_counter() - t0):,.0f} img/s (for reference; on GPU it converts on the device)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=12)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vaultlab-bench-") as tmp:
        bench_prepare(Path(tmp), args.videos, args.frames)
        bench_cache(Path(tmp), args.images, args.batch)


if __name__ == "__main__":
    main()
