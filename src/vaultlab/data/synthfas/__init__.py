"""SynthFAS: the embedded procedural face anti-spoofing benchmark (DESIGN.md §5).

    data = generate_synthfas(SynthFASConfig(seed=0))                 # a SampleSet
    data = load_or_generate(SynthFASConfig(), Path(".vaultlab/cache"))  # cached by config hash
    data = load_or_generate(config, cache, domains=["D0", "D1"])      # only what adapt:D0->D1 reads

Per subject (identity fixed across domains) and per capture domain (D0 lab, D1 webcam, D2 phone,
D3 lowres: light, background, camera, printer and screen of its own), the generator makes
``bona_fide_videos`` live videos and ``attack_videos`` videos of each PAI (print-lq, print-hq,
replay-lq, replay-hq), ``frames`` frames each. Attacks re-present a bona fide rendering of the same
subject (see ``attacks``). Subjects are split 72/24/256 into train/dev/test (``split``): the test
split is large so that one run's video-level HTER has a 95 % bootstrap interval of at most about ±2
points (up to an HTER of 30 %) even on a single-domain test (lodo, adapt: 1,024 bona fide and 1,024
attack videos per domain). A test over several domains would hold up to 4× that and only cost
scoring time, so the data declares ``meta["test_videos_per_class"] = 1024`` and the protocols thin
such a test to that size by (subject, domain) cells (``vaultlab.data.protocols.sized_test``).

Deterministic: the same config gives the same bytes (on the same torch build; generation runs in
fixed-size chunks, each with its own seeded generator, so the result does not depend on threads or
progress reporting). Rendering only some of the config's domains (``domains=``) gives exactly their
rows of the full set, in the same order: each (chunk, domain) generator is seeded by the domain's
place in ``config.domains``, and nothing else depends on which domains are rendered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from vaultlab.data.sampleset import ATTACK, BONA_FIDE, SampleSet
from vaultlab.data.synthfas import attacks as _attacks
from vaultlab.data.synthfas import render as _render
from vaultlab.data.synthfas.camera import NoiseBank, capture
from vaultlab.data.synthfas.domains import DOMAINS, camera_for
from vaultlab.data.synthfas.render import PARSING_CLASSES

GENERATOR_VERSION = "synthfas-6"
PAIS = ("print-lq", "print-hq", "replay-lq", "replay-hq")
ATTACK_PARSING = (
    "face parsing of the displayed (printed/replayed) face, warped through the instrument's geometry; "
    "0 outside the face and outside the sheet. Depth is all zeros for attacks."
)
CHUNK_SUBJECTS = 8  # subjects per generation batch (part of the byte-level definition of a config)
TEST_VIDEOS_PER_CLASS = 1024  # what a protocol's test split needs for ±2 HTER points (module doc); not part of the bytes

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SynthFASConfig:
    seed: int = 0
    image_size: int = 64
    subjects: int = 352
    frames: int = 2  # frames per video
    bona_fide_videos: int = 4  # live videos per subject and domain
    attack_videos: int = 1  # videos per PAI species, subject and domain
    domains: tuple[str, ...] = ("D0", "D1", "D2", "D3")
    art: float = 2.0  # attack strength of the low-quality attacks
    hq: float = 0.5  # high-quality strength = art * hq
    dom: float = 1.6  # how far each domain's camera departs from a neutral one (calibrated, see benchmarks/calibrate_synthfas.py)
    spread: float = 1.8  # instrument spread across domains (halftone frequency, screen pitch)
    emphasis: float = 1.8  # domain-specific artefact emphasis ("spec 1"): own cue ×e, other cues ×1/e; 1.0 = same mix everywhere
    split: tuple[float, float, float] = (0.205, 0.068, 0.727)  # 72 / 24 / 256 of the default 352 subjects

    def __post_init__(self) -> None:
        unknown = [d for d in self.domains if d not in DOMAINS]
        if unknown:
            raise ValueError(f"unknown SynthFAS domain(s) {unknown}; known: {', '.join(DOMAINS)}")
        if self.image_size < 16:
            raise ValueError("image_size must be at least 16")
        if self.subjects < 3 or self.frames < 1 or self.bona_fide_videos < 1 or self.attack_videos < 1:
            raise ValueError("need at least 3 subjects and one frame, bona fide video and attack video")

    @property
    def images_per_subject_domain(self) -> int:
        return self.frames * (self.bona_fide_videos + len(PAIS) * self.attack_videos)

    @property
    def n_images(self) -> int:
        return self.subjects * len(self.domains) * self.images_per_subject_domain

    def to_dict(self) -> dict:
        d = asdict(self)
        d["domains"], d["split"] = list(self.domains), list(self.split)
        return d

    def digest(self) -> str:
        text = json.dumps({"version": GENERATOR_VERSION, "config": self.to_dict()}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_path(config: SynthFASConfig, cache_dir: Path, domains: Sequence[str] | None = None) -> Path:
    """The cache file of ``config``, or of the part of it that renders only ``domains``."""
    rendered = _rendered_domains(config, domains)
    part = "" if len(rendered) == len(config.domains) else "-" + "-".join(config.domains[i] for i in rendered)
    return Path(cache_dir) / f"synthfas-{config.digest()}{part}.npz"


def load_or_generate(config: SynthFASConfig, cache_dir: Path, progress: Progress | None = None,
                     domains: Sequence[str] | None = None) -> SampleSet:
    """The SampleSet of ``config`` (only its ``domains``, when given) from the cache if there (the
    whole set's file serves any part of it), else generated and cached."""
    wanted = [config.domains[i] for i in _rendered_domains(config, domains)]
    for path in dict.fromkeys([cache_path(config, cache_dir, wanted), cache_path(config, cache_dir)]):
        data = _cached(path, config)
        if data is not None:
            if data.domains() != sorted(wanted):
                data = _only_domains(data, wanted)
            data.meta["cache"] = {"path": str(path), "hit": True}
            data.meta["test_videos_per_class"] = TEST_VIDEOS_PER_CLASS  # files written before it was in the meta lack it
            return data
    path = cache_path(config, cache_dir, wanted)
    data = generate_synthfas(config, progress=progress, domains=wanted)
    data.save(path)
    data.meta["cache"] = {"path": str(path), "hit": False}
    return data


def _cached(path: Path, config: SynthFASConfig) -> SampleSet | None:
    if not path.exists():
        return None
    try:
        data = SampleSet.load(path)
    except Exception:  # a corrupt or foreign file: regenerate over it
        return None
    if data.meta.get("generator_version") == GENERATOR_VERSION and data.meta.get("config") == config.to_dict():
        return data
    return None


def _only_domains(data: SampleSet, domains: Sequence[str]) -> SampleSet:
    part = data.select(np.isin(data.domain, list(domains)))
    part.meta = {**data.meta, "domains": {d: t for d, t in data.meta["domains"].items() if d in domains}}
    return part


def _rendered_domains(config: SynthFASConfig, domains: Sequence[str] | None) -> list[int]:
    """Indices into ``config.domains`` of the domains to render (all when ``domains`` is None)."""
    if domains is None:
        return list(range(len(config.domains)))
    unknown = sorted(set(domains) - set(config.domains))
    if unknown or not domains:
        raise ValueError(f"SynthFAS domains {unknown or list(domains)}: not among this config's {', '.join(config.domains)}")
    return [i for i, d in enumerate(config.domains) if d in set(domains)]


def _split_of_subjects(config: SynthFASConfig) -> np.ndarray:
    n = config.subjects
    rng = np.random.default_rng([config.seed, 0x5B1])
    order = rng.permutation(n)
    n_train = int(round(config.split[0] * n))
    n_dev = max(1, int(round(config.split[1] * n)))
    n_train = min(n_train, n - n_dev - 1)
    split = np.empty(n, dtype="<U5")
    split[order[:n_train]] = "train"
    split[order[n_train:n_train + n_dev]] = "dev"
    split[order[n_train + n_dev:]] = "test"
    return split


def _light(spec, n: int, frames: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """Domain light with a per-video draw and a small per-frame jitter."""
    nv = n // frames
    base = torch.tensor(spec.light_dir, dtype=torch.float32)
    d = base / base.norm() + (0.25 * torch.randn(nv, 3, generator=gen)).repeat_interleave(frames, 0)
    d = d + 0.04 * torch.randn(n, 3, generator=gen)
    d[:, 2] = d[:, 2].abs() + 0.2
    d = d / d.norm(dim=1, keepdim=True)
    rgb = torch.tensor(spec.light_rgb).view(1, 3) * (1.0 + 0.05 * torch.randn(nv, 3, generator=gen)).repeat_interleave(frames, 0)
    level = spec.light_level * (1.0 + 0.15 * torch.randn(nv, generator=gen)).repeat_interleave(frames) * (1.0 + 0.03 * torch.randn(n, generator=gen))
    amb = spec.ambient * (1.0 + 0.2 * torch.rand(nv, generator=gen)).repeat_interleave(frames)
    return {"dir": d, "rgb": rgb, "level": level.clamp(min=0.2), "ambient": amb}


def _pose(n: int, frames: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    nv = n // frames

    def pv(sd: float, jitter: float) -> torch.Tensor:
        return (sd * torch.randn(nv, generator=gen)).repeat_interleave(frames) + jitter * torch.randn(n, generator=gen)

    return {
        "tx": pv(0.04, 0.01), "ty": pv(0.04, 0.01), "scale": 1.0 + pv(0.05, 0.01),
        "roll": pv(0.08, 0.02), "yaw": pv(0.2, 0.04), "pitch": pv(0.12, 0.03),
    }


def _lit_background(spec, light: dict[str, torch.Tensor], n: int, size: int, gen: torch.Generator) -> torch.Tensor:
    bg = _render.backgrounds(spec.background, torch.tensor(spec.background_rgb), n, size, gen)
    lvl = (light["level"] * (light["ambient"] + 0.6)).view(-1, 1, 1, 1)
    return bg * light["rgb"].view(-1, 3, 1, 1) * lvl


def _render_chunk(config: SynthFASConfig, dom_idx: int, subj: np.ndarray, params: dict[str, np.ndarray], maps: dict[str, torch.Tensor], gen: torch.Generator, noise: NoiseBank) -> dict:
    """All rows of one domain for the subjects ``subj``."""
    spec = DOMAINS[config.domains[dom_idx]]
    S, F_ = config.image_size, config.frames
    ns = len(subj)
    bf_subj = np.repeat(subj, config.bona_fide_videos * F_)
    bf_vid = np.tile(np.repeat(np.arange(config.bona_fide_videos), F_), ns)
    n_bf = len(bf_subj)
    # attack videos: per subject, per PAI, per video; one displayed photo per attack video
    av_subj = np.repeat(subj, len(PAIS) * config.attack_videos)
    av_pai = np.tile(np.repeat(np.arange(len(PAIS)), config.attack_videos), ns)
    av_idx = np.tile(np.arange(config.attack_videos), ns * len(PAIS))
    n_av = len(av_subj)

    # 1. heads: bona fide frames (per-frame jitter) and the attack photos (one pose each)
    head_subj = np.concatenate([bf_subj, av_subj])
    sub = {k: torch.from_numpy(v[head_subj]) for k, v in params.items()}
    local = torch.from_numpy(head_subj - subj[0])  # blocks of this chunk's canonical maps
    pose_bf, light_bf = _pose(n_bf, F_, gen), _light(spec, n_bf, F_, gen)
    pose_ph, light_ph = _pose(n_av, 1, gen), _light(spec, n_av, 1, gen)
    pose = {k: torch.cat([pose_bf[k], pose_ph[k]]) for k in pose_bf}
    light = {k: torch.cat([light_bf[k], light_ph[k]]) for k in light_bf}
    bg = _lit_background(spec, light, n_bf + n_av, S, gen)
    heads = _render.pose_heads(maps, local, sub, pose, light, bg, S)

    rgb_parts, rows = [heads["rgb"][:n_bf]], []
    depth_parts = [heads["depth"][:n_bf]]
    pars_parts = [heads["parsing"][:n_bf]]
    dname = spec.name
    for s, v in zip(bf_subj.tolist(), bf_vid.tolist()):
        rows.append((BONA_FIDE, "", s, f"{dname}-s{s:04d}-live-{v}"))

    # 2. attacks, one batch per family; frames of a video share the photo and instrument draws
    photos, photo_pars = heads["rgb"][n_bf:], heads["parsing"][n_bf:].float().unsqueeze(1)
    for family, fn in (("print", _attacks.print_attack), ("replay", _attacks.replay_attack)):
        sel = np.flatnonzero(np.array([PAIS[p].startswith(family) for p in av_pai]))
        nvid = len(sel)
        frame_of = np.repeat(sel, F_)
        idx = torch.from_numpy(frame_of)
        strength = torch.tensor([config.art * (config.hq if PAIS[av_pai[i]].endswith("hq") else 1.0) for i in frame_of], dtype=torch.float32)
        light_a = _light(spec, nvid * F_, F_, gen)
        scene = _lit_background(spec, light_a, nvid * F_, S, gen)
        H = _attacks.sample_sheet_poses(nvid, F_, S, gen)["H"]
        out, cover, grid = fn(photos[idx], scene, H, strength, light_a, spec, F_, config.spread, config.emphasis, gen, noise)
        pars = torch.nn.functional.grid_sample(photo_pars[idx], grid, mode="nearest", padding_mode="zeros", align_corners=False)
        pars = (pars.squeeze(1) * (cover > 0.5)).to(torch.uint8)
        rgb_parts.append(out)
        depth_parts.append(torch.zeros(len(frame_of), S, S, dtype=torch.uint8))
        pars_parts.append(pars)
        for i in frame_of.tolist():
            s = int(av_subj[i])
            rows.append((ATTACK, PAIS[av_pai[i]], s, f"{dname}-s{s:04d}-{PAIS[av_pai[i]]}-{av_idx[i]}"))

    # 3. the domain's camera on everything
    cam = camera_for(spec, config.dom, S)
    images = torch.cat([capture(part, cam, gen, noise) for part in rgb_parts])
    return {"images": images.numpy(), "depth": torch.cat(depth_parts).numpy(), "parsing": torch.cat(pars_parts).numpy(), "rows": rows}


def generate_synthfas(config: SynthFASConfig | None = None, progress: Progress | None = None,
                      workers: int | None = None, domains: Sequence[str] | None = None) -> SampleSet:
    """Generate the SynthFAS SampleSet for ``config`` (default: the quick 352-subject profile).

    ``workers`` forked processes (default: one per CPU thread torch may use) render the subject
    chunks, one thread each, into shared memory. Every (chunk, domain) has its own seeded generator
    and reads only shared, fixed inputs, so the bytes do not depend on ``workers``. ``domains``
    (default: all of ``config.domains``) renders only those: the same rows, in the same order, as the
    full set holds for them.
    """
    config = config or SynthFASConfig()
    rendered = _rendered_domains(config, domains)
    per_chunk_subject = len(rendered) * config.images_per_subject_domain  # rows of one subject in one chunk
    S, N = config.image_size, config.subjects * per_chunk_subject
    params = _render.sample_subjects(config.subjects, np.random.default_rng([config.seed, 0xFACE]))
    split_of = _split_of_subjects(config)
    chunks = [np.arange(i, min(i + CHUNK_SUBJECTS, config.subjects)) for i in range(0, config.subjects, CHUNK_SUBJECTS)]
    starts = np.cumsum([0] + [len(c) * per_chunk_subject for c in chunks])
    noise_gen = torch.Generator().manual_seed(int(np.random.SeedSequence([config.seed, 0x0153]).generate_state(1)[0]))
    noise = NoiseBank(S, noise_gen)
    workers = min(len(chunks), torch.get_num_threads() if workers is None else max(1, workers))
    pixels = {"images": _shared((N, S, S, 3), workers), "depth": _shared((N, S, S), workers), "parsing": _shared((N, S, S), workers)}
    label = np.empty(N, dtype=np.int64)
    pai, domain, subject, video, split = ([None] * N for _ in range(5))
    done = 0
    for c_idx, d_idx, rows in _render_chunks(config, rendered, chunks, starts, params, noise, pixels, workers):
        pos = int(starts[c_idx]) + rendered.index(d_idx) * len(chunks[c_idx]) * config.images_per_subject_domain
        dname = config.domains[d_idx]
        for j, (lab, p, s, vid) in enumerate(rows):
            label[pos + j], pai[pos + j], domain[pos + j] = lab, p, dname
            subject[pos + j], video[pos + j], split[pos + j] = f"s{s:04d}", vid, split_of[s]
        done += len(rows)
        if progress is not None:
            progress(done, N)
    assert done == N
    meta = {
        "name": "synthfas",
        "generator_version": GENERATOR_VERSION,
        "config": config.to_dict(),
        "depth_source": "exact (SynthFAS geometry)",
        "parsing_classes": list(PARSING_CLASSES),
        "attack_parsing": ATTACK_PARSING,
        "domains": {config.domains[i]: DOMAINS[config.domains[i]].title for i in rendered},
        "test_videos_per_class": TEST_VIDEOS_PER_CLASS,
    }
    return SampleSet(
        images=pixels["images"], label=label, pai=np.array(pai, dtype="U"), domain=np.array(domain, dtype="U"),
        subject=np.array(subject, dtype="U"), video=np.array(video, dtype="U"), split=np.array(split, dtype="U"),
        depth=pixels["depth"], parsing=pixels["parsing"], meta=meta,
    )


def _shared(shape: tuple[int, ...], workers: int) -> np.ndarray:
    """A uint8 array that forked workers write into (anonymous shared memory), or a plain one for one worker."""
    if workers == 1:
        return np.empty(shape, dtype=np.uint8)
    import mmap

    return np.frombuffer(mmap.mmap(-1, max(1, int(np.prod(shape)))), dtype=np.uint8).reshape(shape)


def _render_chunk_domains(config: SynthFASConfig, rendered: list[int], c_idx: int, subj: np.ndarray, start: int, params,
                          noise: NoiseBank, pixels: dict[str, np.ndarray]):
    """Render the ``rendered`` domains of one subject chunk into ``pixels`` from row ``start`` on; yields
    (domain index, rows)."""
    with torch.no_grad():
        maps = _render.head_maps({k: torch.from_numpy(v[subj]) for k, v in params.items()}, config.image_size)
    pos = start
    for d_idx in rendered:
        seed = np.random.SeedSequence([config.seed, d_idx, c_idx, DOMAIN_SALT]).generate_state(2, dtype=np.uint64)
        gen = torch.Generator().manual_seed(int(seed[0] & 0x7FFF_FFFF_FFFF_FFFF))
        with torch.no_grad():
            part = _render_chunk(config, d_idx, subj, params, maps, gen, noise)
        n = len(part["rows"])
        for key, array in pixels.items():
            array[pos:pos + n] = part[key]
        pos += n
        yield d_idx, part["rows"]


def _render_chunks(config, rendered, chunks, starts, params, noise, pixels, workers: int):
    """(chunk, domain, rows) for every chunk and domain, in this process or in ``workers`` forked ones."""
    if workers == 1:
        for c_idx, subj in enumerate(chunks):
            for d_idx, rows in _render_chunk_domains(config, rendered, c_idx, subj, int(starts[c_idx]), params, noise, pixels):
                yield c_idx, d_idx, rows
        return
    import multiprocessing as mp
    from multiprocessing.connection import wait

    ctx = mp.get_context("fork")  # the inputs and the shared output arrays are inherited, nothing is pickled
    procs, conns = [], []
    try:
        for w in range(workers):
            receive, send = ctx.Pipe(duplex=False)
            mine = list(range(w, len(chunks), workers))
            proc = ctx.Process(target=_chunk_worker, args=(config, rendered, mine, chunks, starts, params, noise, pixels, send), daemon=True)
            proc.start()
            send.close()
            procs.append(proc)
            conns.append(receive)
        open_conns = list(conns)
        while open_conns:
            for conn in wait(open_conns):
                try:
                    message = conn.recv()
                except EOFError:
                    open_conns.remove(conn)
                    continue
                if isinstance(message, BaseException):
                    raise message
                yield message
        for proc in procs:
            proc.join()
            if proc.exitcode != 0:
                raise RuntimeError(f"a SynthFAS generation worker died (exit code {proc.exitcode})")
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
                proc.join()
        for conn in conns:
            conn.close()


def _chunk_worker(config, rendered, mine, chunks, starts, params, noise, pixels, send) -> None:
    torch.set_num_threads(1)
    try:
        for c_idx in mine:
            for d_idx, rows in _render_chunk_domains(config, rendered, c_idx, chunks[c_idx], int(starts[c_idx]), params, noise, pixels):
                send.send((c_idx, d_idx, rows))
    except KeyboardInterrupt:  # Ctrl-C reached the whole process group: the parent stops too
        send.send(KeyboardInterrupt())
    except BaseException as exc:  # noqa: BLE001 - the parent raises it
        send.send(RuntimeError(f"SynthFAS generation failed: {type(exc).__name__}: {exc}"))
    finally:
        send.close()


DOMAIN_SALT = 0xD0


__all__ = [
    "GENERATOR_VERSION", "PAIS", "SynthFASConfig", "cache_path", "generate_synthfas", "load_or_generate",
    "PARSING_CLASSES",
]
