"""Real-data pipeline speed: preparing 1080p videos with 1 and N worker processes, and loading the cache.

    python benchmarks/data_cache.py [--videos 192] [--frames 150] [--repeats 2] [--workers N] [--every] [--skip-cache]

1. Prepare: a Replay-Attack-shaped tree of synthetic 1920×1080 MPEG-4 AVI videos (a drawn face
   moving over a noisy background, keyframe every 12 frames, ``--frames`` frames: OULU-NPU's are
   1920×1080 and about 150 frames) goes through ``prepare_dataset`` at 224 px with ``6+mid``, once with
   1 worker and once with N (default: the cores available), back to back, ``--repeats`` times, on
   the same videos, after one untimed read of every file (warm page cache), alternating which goes
   first (1,N then N,1, ...) so neither always runs into the other's leftovers. Each prepare runs in
   a fresh Python process, as ``vaultlab data prepare`` does, so it pays for its own fork server and
   workers; the benchmark adopts that process's orphans (the fork server, the resource tracker) and
   reaps them, so the CPU time of the whole process tree is counted (minus the interpreter's start
   and imports, which precede ``prepare_dataset``). Printed per run: the wall crops/s of
   ``prepare_dataset`` (pool start included), the CPU milliseconds per crop and the load average;
   then the two figures the targets name — the wall speed-up of N workers over one (target ≥ 1.7×
   on 2 cores) and the N-worker wall crops/s (target ≥ 100) — and where the CPU goes, per crop: by
   stage (index, seek + decode, face search, crop; best of two passes in this process over 32 of
   the videos), the rest of a one-process prepare (shards, pseudo maps, manifest), what starting N
   workers costs once per prepare (N workers minus one process on a 3-video tree), and what passing
   videos and crops between processes costs; then whether the cores slow each other down: the same
   cropping in N processes at once against one alone (two hyperthreads of one physical core each run
   at little more than half speed, which no number of workers gets around); last, the floor: the CPU
   time of only decoding the frames ``6+mid`` needs (from the keyframe before each sampled frame up to
   it, bare PyAV, nothing else; best of two passes, with the stages' passes), split into keyframes and other frames, and the crops/s N workers could
   not exceed even if everything else were free. ``--every`` adds one ``every:5`` run (SA-FAS) with N
   workers. The crops of the 1- and N-worker runs must be identical. The default 192 videos amortise
   the pool's start roughly as a real prepare (thousands of videos) does; it is printed apart.
2. Cache: a prepared cache of ``--images`` crops at 224 px is loaded with ``load_prepared``
   (img/s from disk, the pseudo maps made from the labels, once per run), then shuffled batches are gathered from the uint8 arrays (what a
   GPU run ships; the engine converts on the device) and, on CPU, turned into float32 NCHW tensors
   in a reused buffer. Target: ≥ 5,000 img/s, so the cache never starves a GPU run. The engine's own
   ``Batches`` on CPU is printed for reference.

On a shared machine every wall figure is a lower bound: other processes take cores from both runs,
and where the kernel groups processes by login session (``/proc/sys/kernel/sched_autogroup_enabled``)
the N workers share one session's slice while other sessions are busy. The CPU milliseconds per
crop do not depend much on that load; the idle-machine estimate printed from them is labelled so.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vaultlab.data.real.cache import load_prepared
from vaultlab.data.real.prepare import PrepareSettings, default_workers, prepare_dataset

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "data" / "real"  # the tests' face drawing and encoder

UNIQUE_VIDEOS = 4  # encoded once each, then copied under the other names (encoding 1080p is slow)
SETTINGS = PrepareSettings(frames="6+mid", size=224)


def make_1080p_tree(root: Path, videos: int, frames: int) -> None:
    """Real videos at 1920×1080 with a 500-px face moving slightly; the Replay-Attack file grammar."""
    sys.path.insert(0, str(FIXTURES))  # imported here, not at the top: worker processes re-import this module
    from conftest import face_image, write_video

    rng = np.random.default_rng(0)
    background = rng.integers(60, 110, (1080, 1920, 3), dtype=np.uint8)
    noise = [rng.integers(0, 8, (1080, 1920, 3), dtype=np.uint8) for _ in range(7)]  # sensor noise: neighbouring frames differ
    encoded = []
    for v in range(min(videos, UNIQUE_VIDEOS)):
        clip = []
        for i in range(frames):
            frame = background + noise[i % len(noise)]
            y, x = 280 + 3 * (i % 7) + 40 * v, 650 + 2 * (i % 5) + 60 * v
            frame[y : y + 500, x : x + 500] = face_image(500, shift=(i % 3) - 1, tone=10 * v)
            clip.append(frame)
        encoded.append(write_video(root / f"unique-{v}.avi", clip))
    for v in range(videos):
        split = ("train", "devel", "test")[v % 3]
        target = root / split / "real" / f"client{v:03d}_session01_webcam_authenticate_adverse_1.avi"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(encoded[v % len(encoded)], target)
    for path in encoded:
        path.unlink()
    for split in ("train", "devel", "test"):
        for support in ("fixed", "hand"):
            (root / split / "attack" / support).mkdir(parents=True, exist_ok=True)


def own_cpu_seconds() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


def reaped_cpu_seconds() -> float:
    """CPU time of every descendant reaped so far (with the descendants each of them reaped)."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return kids.ru_utime + kids.ru_stime


def one_prepare(tree: Path, cache: Path, frames: str, workers: int) -> None:
    """In the subprocess: one prepare; prints its report and the CPU spent before it started."""
    before = own_cpu_seconds()
    report = prepare_dataset("replay-attack", tree, cache, PrepareSettings(frames=frames, size=224), workers=workers, force=True)
    print(json.dumps({"seconds": report.seconds, "images": report.images, "startup_cpu": before}))


def timed_prepare(tree: Path, cache: Path, frames: str, workers: int) -> tuple[float, float, int]:
    """(crops per wall second, CPU ms per crop of the whole process tree, crops) of one prepare in a fresh process."""
    cpu0 = reaped_cpu_seconds()
    command = [sys.executable, __file__, "--one-prepare", str(tree), str(cache), frames, str(workers)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"the prepare with {workers} worker(s) failed:\n{done.stderr}")
    out = done.stdout
    while True:  # the fork server and resource tracker outlive the prepare's process: reap them (we are their subreaper)
        try:
            os.wait()
        except ChildProcessError:
            break
    run = json.loads(out.splitlines()[-1])
    cpu_ms = 1000 * (reaped_cpu_seconds() - cpu0 - run["startup_cpu"]) / max(run["images"], 1)
    return run["images"] / run["seconds"], cpu_ms, run["images"]


def pool_start_cpu_seconds(tree: Path, tmp: Path, workers: int) -> float:
    """CPU seconds that N workers add to a prepare whatever its size (fork server, its imports, the workers'
    start): N workers minus one process on a tree of one video per split, best of two."""
    small = tmp / "pool-start"
    for split in ("train", "devel", "test"):
        video = next((tree / split / "real").glob("*.avi"))
        (small / split / "real").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(video, small / split / "real" / video.name)
        for support in ("fixed", "hand"):
            (small / split / "attack" / support).mkdir(parents=True, exist_ok=True)
    cost = {}
    for n in (1, workers):
        runs = [timed_prepare(small, tmp / "pool-start-cache", "6+mid", n) for _ in range(2)]
        cost[n] = min(cpu_ms * images for _, cpu_ms, images in runs) / 1000
    return cost[workers] - cost[1]


def adopt_orphans() -> None:
    """Become the subreaper of our descendants (Linux), so their CPU time reaches RUSAGE_CHILDREN."""
    import ctypes

    pr_set_child_subreaper = 36
    if ctypes.CDLL(None, use_errno=True).prctl(pr_set_child_subreaper, 1, 0, 0, 0) != 0:
        sys.exit("prctl(PR_SET_CHILD_SUBREAPER) failed: the N-worker CPU time could not be counted")


def load_average() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"


def crop_cpu_seconds(paths: list[str]) -> None:
    """In a subprocess: crop these videos in one process and print the CPU seconds it took."""
    import cv2

    from vaultlab.data.real.crops import crop_presentation
    from vaultlab.data.real.faces import FaceDetector
    from vaultlab.data.real.records import VideoRecord
    from vaultlab.data.real.video import keep_decoder_memory

    cv2.setNumThreads(1)
    keep_decoder_memory()
    detector, spec = FaceDetector(), SETTINGS.crop_spec
    records = [VideoRecord(path=Path(p), label=1, pai="", dataset="bench", subject=str(i), video_id=str(i), split="train")
               for i, p in enumerate(paths)]
    crop_presentation(records[0], spec, detector)  # warm: first decoder, first cascade pass
    before = own_cpu_seconds()
    for record in records:
        crop_presentation(record, spec, detector)
    print(own_cpu_seconds() - before)


def concurrency_cost(tree: Path, processes: int, videos: int = 16) -> float:
    """How much more CPU the same cropping takes in each of ``processes`` processes running at once than
    in one process alone (1.0: the cores are independent; near 2: they share one core's execution
    units, as two hyperthreads of a core do, or the host gives them less than two cores)."""
    paths = [str(p) for p in sorted(tree.rglob("*.avi"))[:videos]]
    command = [sys.executable, __file__, "--crop-cpu", *paths]
    alone = float(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    together = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    each = [float(p.communicate()[0]) for p in together]
    return sum(each) / len(each) / alone


def stage_costs(tree: Path, videos: int) -> dict[str, float]:
    """CPU ms per crop of each stage, in this process, on the first ``videos`` videos (one worker's path)."""
    import cv2

    from vaultlab.data.real.faces import NEAR_SIZE, FaceDetector, crop_resized, square_around
    from vaultlab.data.real.sampling import parse_frame_convention, sampled_frame_indices
    from vaultlab.data.real.video import index_video, iter_pictures, keep_decoder_memory

    cv2.setNumThreads(1)
    keep_decoder_memory()
    detector, convention = FaceDetector(), parse_frame_convention(SETTINGS.frames)
    spent = dict.fromkeys(("index", "seek + decode", "face search", "crop"), 0.0)
    crops = 0
    for path in sorted(tree.rglob("*.avi"))[:videos]:
        t0 = time.process_time()
        index = index_video(path)
        spent["index"] += time.process_time() - t0
        pictures = iter_pictures(path, sampled_frame_indices(convention, index.declared or index.packets), index)
        at_least = 0  # as crops.py searches a video's later frames
        while True:
            t0 = time.process_time()
            picture = next(pictures, None)
            spent["seek + decode"] += time.process_time() - t0
            if picture is None:
                break
            t0 = time.process_time()
            box = detector.largest_face_in_grey(picture[1].gray(), at_least)
            at_least = int(NEAR_SIZE * max(box[2:])) if box else at_least
            t1 = time.process_time()
            crop_resized(picture[1], square_around(box, SETTINGS.crop_scale), SETTINGS.size)
            spent["face search"] += t1 - t0
            spent["crop"] += time.process_time() - t1
            crops += 1
    return {stage: 1000 * seconds / crops for stage, seconds in spent.items()}


def decode_floor(tree: Path, videos: int) -> dict[str, float]:
    """The least decoding any reader of exact frames must do, in this process, on the first ``videos``
    videos: for each sampled frame, PyAV decodes from the keyframe at or before it up to it (a seek only
    where that skips frames), nothing converted, no face search, no crop; the index comes from
    ``index_video`` untimed. Returns the CPU ms per crop (open, seek and decode) and, per crop, the
    keyframes and other frames decoded with the CPU ms each takes to decode."""
    import av

    from vaultlab.data.real.sampling import parse_frame_convention, sampled_frame_indices
    from vaultlab.data.real.video import index_video, keep_decoder_memory

    keep_decoder_memory()
    convention = parse_frame_convention(SETTINGS.frames)
    total, crops = 0.0, 0
    spent, count = {True: 0.0, False: 0.0}, {True: 0, False: 0}  # by packet.is_keyframe
    for path in sorted(tree.rglob("*.avi"))[:videos]:
        index = index_video(path)
        position_of = {pts: i for i, pts in enumerate(index.pts)}
        wanted = sampled_frame_indices(convention, index.declared or index.packets)
        t0 = time.process_time()
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_count = 1
            position, packets = -1, container.demux(stream)
            for target in wanted:
                key = max(k for k in index.keyframes if k <= target)
                if key > position + 1:
                    container.seek(index.pts[key], stream=stream, backward=True, any_frame=False)
                    packets = container.demux(stream)
                while position < target:
                    packet = next(packets)
                    t1 = time.process_time()
                    frames = packet.decode()
                    spent[bool(packet.is_keyframe)] += time.process_time() - t1
                    count[bool(packet.is_keyframe)] += 1
                    position = max([position] + [position_of[f.pts] for f in frames])
        total += time.process_time() - t0
        crops += len(wanted)
    return {"ms": 1000 * total / crops, "keyframes": count[True] / crops, "others": count[False] / crops,
            "keyframe_ms": 1000 * spent[True] / max(count[True], 1), "other_ms": 1000 * spent[False] / max(count[False], 1)}


def bench_prepare(tmp: Path, videos: int, frames: int, repeats: int, workers: int, every: bool) -> None:
    adopt_orphans()
    tree = tmp / "replay-1080p"
    t0 = time.perf_counter()
    make_1080p_tree(tree, videos, frames)
    print(f"made {videos} videos of 1920x1080, {frames} frames each, in {time.perf_counter() - t0:.1f} s")
    for path in sorted(tree.rglob("*.avi")):  # warm page cache: every timed run reads from memory
        path.read_bytes()
    stage_before, floor_before = stage_costs(tree, min(videos, 32)), decode_floor(tree, min(videos, 32))
    print(f"before the runs: {load_average()}")
    rates: dict[int, list[float]] = {1: [], workers: []}
    costs: dict[int, list[float]] = {1: [], workers: []}
    for attempt in range(repeats):
        for n in ((1, workers) if attempt % 2 == 0 else (workers, 1)):
            rate, cpu_ms, images = timed_prepare(tree, tmp / f"cache-6mid-{n}", "6+mid", n)
            rates[n].append(rate)
            costs[n].append(cpu_ms)
            print(f"prepare 6+mid, {n} worker{'s' if n > 1 else ' '} (run {attempt + 1}): {videos} videos → {images} crops at 224 px: "
                  f"{rate:6.1f} crops/s wall, {cpu_ms:5.1f} CPU ms per crop (whole process tree, pool start included); {load_average()}")
    same = np.array_equal(load_prepared("replay-attack", cache_dir=tmp / "cache-6mid-1").images,
                          load_prepared("replay-attack", cache_dir=tmp / f"cache-6mid-{workers}").images)
    print(f"crops identical with 1 and {workers} workers: {same}")

    ratios = [b / a for a, b in zip(rates[1], rates[workers])]
    print(f"SPEED-UP with {workers} workers (wall, run by run): {', '.join(f'{r:.2f}x' for r in ratios)}; "
          f"target ≥ 1.7x on 2 cores: {'met' if max(ratios) >= 1.7 else 'NOT met'} (best {max(ratios):.2f}x)")
    print(f"CROPS/S with {workers} workers (wall, best run): {max(rates[workers]):.1f}; "
          f"target ≥ 100: {'met' if max(rates[workers]) >= 100 else 'NOT met'}")

    one, many = min(costs[1]), min(costs[workers])
    start_s = pool_start_cpu_seconds(tree, tmp, workers)
    stages = {stage: min(a, b) for (stage, a), b in zip(stage_before.items(), stage_costs(tree, min(videos, 32)).values())}
    floor = min(floor_before, decode_floor(tree, min(videos, 32)), key=lambda f: f["ms"])  # as the stages: before and after the runs
    print(f"where the CPU goes, ms per crop (best runs; stages: best of two passes in this process over {min(videos, 32)} videos):")
    for stage, ms in stages.items():
        print(f"  {stage:30s} {ms:5.1f}")
    print(f"  {'rest of a 1-process prepare':30s} {one - sum(stages.values()):5.1f}   "
          "(shards, pseudo maps, manifest, listing the tree, importing cv2 and av; measured apart, so under load it can come out < 0)")
    print(f"  {'= 1 process':30s} {one:5.1f}")
    print(f"  {f'+ starting {workers} workers':30s} {1000 * start_s / images:5.1f}   "
          f"({start_s:.2f} CPU s once per prepare: fork server, its imports, the workers; at 4,950 videos "
          f"{1000 * start_s / 9900:.2f} ms per crop)")
    print(f"  {'+ passing videos and crops':30s} {many - one - 1000 * start_s / images:5.1f}   (parent and workers, per crop)")
    print(f"  {f'= {workers} workers':30s} {many:5.1f}")
    print(f"ESTIMATE for an idle machine, from CPU time, not measured: about {1000 / one:.0f} crops/s in one process, "
          f"{workers * 1000 / many:.0f} crops/s with {workers} workers on {workers} free cores (speed-up {workers * one / many:.2f}x), "
          "if the cores do not slow each other down:")
    ratio = concurrency_cost(tree, workers)
    print(f"  {workers} processes cropping at once each spend {ratio:.2f}x the CPU time one spends alone ({load_average()}); "
          f"on an idle machine that caps the speed-up near {workers / ratio:.2f}x (1.00x each: independent cores; "
          "near 2x: the cores are two hyperthreads of one physical core, or the host shares them)")
    budget = workers * 1000 / 100  # CPU ms per crop that N busy cores can spend at 100 crops/s
    print(f"FLOOR: decoding only the frames {SETTINGS.frames} needs (PyAV from the keyframe at or before each sampled frame up "
          f"to it; nothing converted, no face search, no crop; best of two passes as the stages): {floor['ms']:.1f} CPU ms per crop, that is "
          f"{floor['keyframes']:.1f} keyframe at {floor['keyframe_ms']:.1f} ms and {floor['others']:.1f} other frames at "
          f"{floor['other_ms']:.2f} ms each per crop\n"
          f"  → {workers} workers on {workers} idle cores make at most {workers * 1000 / floor['ms']:.0f} crops/s even if "
          f"everything else were free; 100 crops/s leaves {budget - floor['ms']:.1f} ms per crop for everything else "
          f"(face search and crop alone, above: {stages['face search'] + stages['crop']:.1f}); decoding is "
          f"{floor['ms'] / sum(stages.values()):.0%} of the stages' sum")
    if every:
        rate, cpu_ms, images = timed_prepare(tree, tmp / "cache-every5", "every:5", workers)
        print(f"prepare every:5, {workers} workers: {images} crops: {rate:.1f} crops/s wall, {cpu_ms:.1f} CPU ms per crop")


def bench_cache(tmp: Path, n_images: int, batch: int) -> None:
    import torch

    from vaultlab.data.real.cache import shard_path, write_json_atomic
    from vaultlab.data.sampleset import SampleSet

    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    cache = tmp / "cache-load"
    per_shard = 512
    shards = {}
    for s, first in enumerate(range(0, n_images, per_shard)):
        n = min(per_shard, n_images - first)
        label = rng.integers(0, 2, n)
        ids = np.array([f"v{first + i}" for i in range(n)])
        part = SampleSet(rng.integers(0, 256, (n, 224, 224, 3), dtype=np.uint8), label.astype(np.int64), np.where(label == 1, "", "print"),
                         np.full(n, "bench"), ids, ids, np.full(n, "train"))  # as prepare writes it: maps made at load
        part.save(shard_path(cache, s))
        shards[f"{s:05d}"] = {"file": str(shard_path(cache, s).relative_to(cache)), "videos": n, "images": n, "substituted": 0, "centre_crops": 0, "skipped": []}
    settings = PrepareSettings(size=224).as_manifest()
    write_json_atomic(cache / "manifest.json", {"name": "bench", "layout": "generic", "root": "-", "settings": settings,
                                                "shards": shards, "complete": True, "n_videos": n_images})
    t0 = time.perf_counter()
    data = load_prepared("bench", cache_dir=cache)
    load_s = time.perf_counter() - t0
    print(f"cache load      : {len(data)} crops at 224 px (+ depth, parsing made from the labels) in {load_s:.2f} s → {len(data) / load_s:,.0f} img/s")

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
    parser.add_argument("--videos", type=int, default=192)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--every", action="store_true", help="also time every:5 with N workers")
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--skip-cache", action="store_true", help="only the prepare part")
    parser.add_argument("--one-prepare", nargs=4, metavar=("TREE", "CACHE", "FRAMES", "WORKERS"), help=argparse.SUPPRESS)
    parser.add_argument("--crop-cpu", nargs="+", metavar="VIDEO", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.crop_cpu:
        crop_cpu_seconds(args.crop_cpu)
        return
    if args.one_prepare:
        tree, cache, frames, workers = args.one_prepare
        one_prepare(Path(tree), Path(cache), frames, int(workers))
        return
    with tempfile.TemporaryDirectory(prefix="vaultlab-bench-") as tmp:
        bench_prepare(Path(tmp), args.videos, args.frames, args.repeats, max(2, args.workers), args.every)
        if not args.skip_cache:
            bench_cache(Path(tmp), args.images, args.batch)


if __name__ == "__main__":
    main()
