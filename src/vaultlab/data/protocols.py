"""Evaluation protocols: which rows of a SampleSet train, tune the threshold (dev) and test.

Generic protocols work on any SampleSet with ``domain``/``pai``/``split`` columns:

- ``intra``                      train/dev/test by the dataset's own subject-disjoint split, all domains.
- ``lodo:<domain>``              train+dev on the other domains, test on the test subjects of <domain>.
- ``unseen-attack:<pai>``        train+dev without PAI family <pai>, test on bona fide + <pai> only.
- ``adapt:<source>-><target>``   source domain (train split) in ``extra["source"]``; train = k labelled
                                 target samples per class (``k`` option); dev = k further labelled target
                                 videos per class from dev subjects; test = target test.

Every protocol keeps the dataset's subject split: a subject is in train, dev or test, in every domain
(SynthFAS renders one identity in all domains, so a split by domain alone would share identities).
Thresholds come from ``dev``, which holds only data the protocol's premise allows (``threshold_data``).

A dataset may declare ``meta["test_videos_per_class"]`` (SynthFAS: 1,024, which keeps one run's
video-level HTER within a 95 % interval of about ±2 points up to an HTER of 30 %). A test split over
several domains then keeps each test subject in only some of them, rotating (``sized_test``): the
smallest number of domains per subject that still gives that many videos of each class. Every test
subject and every domain stays in the test split; only the (subject, domain) cells thin out. A
single-domain test (lodo, adapt) and a real dataset's official test set are never thinned.

Dataset-specific protocols (OULU-NPU P1–P4, OCIM) register with ``register_protocol`` too; the
registry (``vaultlab.registry``) finds them without importing their module first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vaultlab import registry
from vaultlab.data.sampleset import ATTACK, BONA_FIDE, SampleSet, Splits, pai_family
from vaultlab.registry import register_protocol


# Part of every run's spec (so of its id): a change to what the protocols select reruns old runs
# instead of reusing their numbers. 2: multi-domain SynthFAS test splits thinned (``sized_test``).
SPLITS_VERSION = 2


class ProtocolError(ValueError):
    """A protocol name or argument that does not fit the dataset."""


@dataclass(frozen=True)
class ProtocolSpec:
    name: str  # "lodo"
    arg: str  # "D1" ("" when none)


ProtocolFn = Callable[[SampleSet, str, dict], Splits]


def known_protocols() -> list[str]:
    return registry.names("protocol")


def parse_protocol(text: str) -> ProtocolSpec:
    name, _, arg = text.strip().partition(":")
    if not registry.exists("protocol", name):
        import difflib

        close = difflib.get_close_matches(name, known_protocols(), n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ProtocolError(f"unknown protocol {text!r}; known: {', '.join(known_protocols())}.{hint}")
    return ProtocolSpec(name, arg)


def domains_read(protocol: str) -> list[str] | None:
    """The domains a protocol's splits read, when it names them (adapt: source and target); None: all."""
    spec = parse_protocol(protocol)
    if spec.name == "adapt":
        source, _, target = spec.arg.partition("->")
        return [source, target]
    return None


def make_splits(data: SampleSet, protocol: str, options: dict | None = None) -> Splits:
    spec = parse_protocol(protocol)
    splits = registry.load("protocol", spec.name)(data, spec.arg, dict(options or {}))
    splits = sized_test(splits, data.meta.get("test_videos_per_class"))
    for part, subset in (("train", splits.train), ("dev", splits.dev), ("test", splits.test)):
        if len(subset) == 0:
            raise ProtocolError(f"protocol {protocol!r} leaves the {part} split empty on {data.meta.get('name', 'this dataset')}")
    return splits


def sized_test(splits: Splits, per_class: int | None) -> Splits:
    """``splits`` with its test split thinned to about ``per_class`` videos of each class (module doc).

    Test subject i (in sorted order) keeps, for each class, its videos in the domains j with
    (j − i) mod n < m, for n test domains and the smallest m ≥ 1 at which that class has ≥
    ``per_class`` videos (m = n keeps the class whole). The classes are thinned apart: unseen-attack's
    test holds 4 bona fide videos per (subject, domain) but 2 of the held-out attack."""
    test = splits.test
    domains = sorted(set(test.domain.tolist()))
    if not per_class or len(domains) < 2:
        return splits
    n = len(domains)
    subjects = sorted(set(test.subject.tolist()))
    subject_at = {s: i for i, s in enumerate(subjects)}
    domain_at = {d: j for j, d in enumerate(domains)}
    offset = (np.array([domain_at[d] for d in test.domain.tolist()]) - np.array([subject_at[s] for s in test.subject.tolist()])) % n
    keep = np.zeros(len(test), dtype=bool)
    kept: dict[int, int] = {}
    for cls in (BONA_FIDE, ATTACK):
        rows = test.label == cls
        kept[cls] = next((m for m in range(1, n) if len(set(test.video[rows & (offset < m)].tolist())) >= per_class), n)
        keep |= rows & (offset < kept[cls])
    if keep.all():
        return splits
    splits.test = test.select(keep)
    per = ", ".join(f"{what} in {kept[cls]}" for what, cls in (("bona fide", BONA_FIDE), ("attacks", ATTACK)))
    splits.description += (f"; test thinned to ≥ {per_class} videos per class by rotating (subject, domain) cells — each of the "
                           f"{len(subjects)} test subjects keeps its {per} of the {n} domains")
    return splits


def _need_arg(name: str, arg: str, choices: list[str]) -> None:
    if not arg:
        raise ProtocolError(f"protocol {name!r} needs an argument, e.g. {name}:{choices[0]} (choices: {', '.join(choices)})")
    if arg not in choices:
        raise ProtocolError(f"protocol {name}:{arg}: {arg!r} is not one of {', '.join(choices)}")


@register_protocol("intra")
def intra(data: SampleSet, arg: str, options: dict) -> Splits:
    return Splits(
        protocol="intra",
        train=data.select(data.split == "train"),
        dev=data.select(data.split == "dev"),
        test=data.select(data.split == "test"),
        description="all domains; subject-disjoint train/dev/test",
        threshold_data="dev subjects, all domains",
    )


@register_protocol("lodo")
def leave_one_domain_out(data: SampleSet, arg: str, options: dict) -> Splits:
    _need_arg("lodo", arg, data.domains())
    seen = data.domain != arg
    return Splits(
        protocol=f"lodo:{arg}",
        train=data.select(seen & (data.split == "train")),
        dev=data.select(seen & (data.split == "dev")),
        test=data.select(~seen & (data.split == "test")),
        description=f"train on {', '.join(d for d in data.domains() if d != arg)}; test on unseen domain {arg}",
        threshold_data=f"dev subjects of the training domains {', '.join(d for d in data.domains() if d != arg)} (no {arg} data)",
    )


@register_protocol("unseen-attack")
def unseen_attack(data: SampleSet, arg: str, options: dict) -> Splits:
    families = sorted({pai_family(p) for p in data.pais()})
    _need_arg("unseen-attack", arg, families)
    family = np.array([pai_family(p) for p in data.pai.tolist()])
    held_out = family == arg
    return Splits(
        protocol=f"unseen-attack:{arg}",
        train=data.select(~held_out & (data.split == "train")),
        dev=data.select(~held_out & (data.split == "dev")),
        test=data.select((held_out | (data.label == BONA_FIDE)) & (data.split == "test")),
        description=f"train without {arg} attacks; test on bona fide + {arg}",
        threshold_data=f"dev subjects, all domains, without {arg} attacks",
    )


@register_protocol("adapt")
def adapt(data: SampleSet, arg: str, options: dict) -> Splits:
    source, sep, target = arg.partition("->")
    domains = data.domains()
    if not sep or source not in domains or target not in domains or source == target:
        raise ProtocolError(f"protocol adapt:{arg}: write adapt:<source>-><target> with two different domains of {', '.join(domains)}")
    k = int(options.get("k", 16))
    rng = np.random.default_rng(int(options.get("seed", 0)))
    target = str(target)
    train_rows = _k_videos_per_class(data, (data.domain == target) & (data.split == "train"), k, rng, f"adapt:{arg}", "training",
                                     first_frame_only=True)
    # The premise is scarce labelled target data. A threshold fitted on the k rows a model trained on is
    # meaningless (they are memorised), and one from the source domain does not transfer to an adapted
    # model (it accepted every target video in our runs). So the threshold gets its own k labelled target
    # videos per class, from dev subjects (disjoint from the training subjects): 2k target labels in all.
    dev_rows = _k_videos_per_class(data, (data.domain == target) & (data.split == "dev"), k, rng, f"adapt:{arg}", "dev",
                                   at_most=True)
    return Splits(
        protocol=f"adapt:{arg}",
        train=data.select(train_rows),
        dev=data.select(dev_rows),
        test=data.select((data.domain == target) & (data.split == "test")),
        description=f"source {source} (all training subjects); target {target} with k={k} labelled samples per class",
        extra={"source": data.select((data.domain == source) & (data.split == "train"))},
        threshold_data=f"k={_videos_per_class(data, dev_rows)} labelled target ({target}) videos per class from dev subjects, held out from training "
                       "(2k target labels in all)",
    )


def _videos_per_class(data: SampleSet, rows: np.ndarray) -> int:
    return min(len(set(data.video[rows][data.label[rows] == cls].tolist())) for cls in (BONA_FIDE, ATTACK))


def _k_videos_per_class(data: SampleSet, pool: np.ndarray, k: int, rng: np.random.Generator, protocol: str, what: str, *,
                        first_frame_only: bool = False, at_most: bool = False) -> np.ndarray:
    """Rows of ``k`` distinct videos per class drawn from ``pool`` (all their frames, or the first of each:
    k labelled training *samples* from k videos, so no frames of one video leak across). ``at_most``:
    a pool with fewer videos gives all it has (a small dev split), but never none."""
    candidates = np.flatnonzero(pool)
    chosen: list[int] = []
    for cls in (BONA_FIDE, ATTACK):
        by_video: dict[str, list[int]] = {}
        for r in candidates[data.label[candidates] == cls].tolist():
            by_video.setdefault(str(data.video[r]), []).append(r)
        videos = sorted(by_video)
        rng.shuffle(videos)
        if len(videos) < k and not (at_most and videos):
            raise ProtocolError(f"protocol {protocol}: k={k} but the target has only {len(videos)} "
                                f"{'bona fide' if cls == BONA_FIDE else 'attack'} {what} videos")
        for v in videos[:k]:
            chosen += by_video[v][:1] if first_frame_only else by_video[v]
    return np.array(sorted(chosen))
