"""The one in-memory form every dataset takes: SynthFAS and every prepared real dataset.

A ``SampleSet`` is a column store of face crops and their labels. Protocols select rows of it
(``SampleSet.select``) into ``Splits``; recipes only ever see ``Splits``.

Conventions (shared by every module):
- ``label`` is 1 for bona fide, 0 for attack. Scores are probabilities of bona fide.
- ``pai`` names the presentation-attack-instrument species ("" for bona fide), e.g. "print-lq",
  "replay-hq". Its family is the part before the first "-" (``pai_family``).
- ``split`` is the dataset's own subject-disjoint split: "train", "dev" or "test".
- ``depth`` is uint8 [N,H,W] (0 = background/planar, 255 = nearest), zeros for attacks;
  ``parsing`` is uint8 [N,H,W] class ids, names in ``meta["parsing_classes"]``. Either may be None.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

BONA_FIDE = 1
ATTACK = 0
SPLITS = ("train", "dev", "test")

_ROW_FIELDS = ("images", "label", "pai", "domain", "subject", "video", "split", "depth", "parsing")


def pai_family(pai: str) -> str:
    """'print-lq' → 'print'; '' (bona fide) → ''."""
    return pai.split("-", 1)[0]


@dataclass
class SampleSet:
    images: np.ndarray  # uint8 [N, H, W, 3], RGB
    label: np.ndarray  # int64 [N]
    pai: np.ndarray  # str [N]
    domain: np.ndarray  # str [N]
    subject: np.ndarray  # str [N]
    video: np.ndarray  # str [N], unique per presentation video; frames of one video share it
    split: np.ndarray  # str [N]
    depth: np.ndarray | None = None  # uint8 [N, H, W]
    parsing: np.ndarray | None = None  # uint8 [N, H, W]
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.images)
        for name in _ROW_FIELDS:
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ValueError(f"SampleSet column {name!r} has {len(value)} rows, images has {n}")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def image_size(self) -> int:
        return int(self.images.shape[1])

    def select(self, mask: np.ndarray) -> "SampleSet":
        """Rows where ``mask`` is true (or at the given integer indices), sharing ``meta``."""
        cols = {name: (None if getattr(self, name) is None else getattr(self, name)[mask]) for name in _ROW_FIELDS}
        return SampleSet(**cols, meta=self.meta)

    def pais(self) -> list[str]:
        return sorted({p for p in self.pai.tolist() if p})

    def domains(self) -> list[str]:
        return sorted(set(self.domain.tolist()))

    def summary(self) -> str:
        n_bf = int((self.label == BONA_FIDE).sum())
        return f"{len(self)} images ({n_bf} bona fide, {len(self) - n_bf} attack; {len(set(self.video.tolist()))} videos)"

    # -- cache -------------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write to one ``.npz`` atomically (temp file + rename), so a killed writer leaves no half cache."""
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "meta" and getattr(self, f.name) is not None}
        for key in ("pai", "domain", "subject", "video", "split"):
            arrays[key] = arrays[key].astype("U")
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp.npz")  # per writer: parallel sweep workers share the cache
        np.savez(tmp, meta=np.array(_json_dumps(self.meta)), **arrays)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> "SampleSet":
        with np.load(path, allow_pickle=False) as z:
            cols = {name: (z[name] if name in z.files else None) for name in _ROW_FIELDS}
            meta = _json_loads(str(z["meta"]))
        return cls(**cols, meta=meta)


@dataclass
class Splits:
    """What a protocol hands a recipe. ``extra`` holds protocol-specific sets (e.g. ``source`` for adapt).

    ``dev`` is the data every threshold comes from; ``threshold_data`` says in words what it is, so
    that each result note can name it (a protocol chooses it from data its premise allows).
    """

    protocol: str
    train: SampleSet
    dev: SampleSet
    test: SampleSet
    description: str = ""
    extra: dict[str, SampleSet] = field(default_factory=dict)
    threshold_data: str = "the protocol's dev split"

    def describe(self) -> str:
        parts = [f"train {self.train.summary()}", f"dev {self.dev.summary()}", f"test {self.test.summary()}"]
        parts += [f"{k} {v.summary()}" for k, v in self.extra.items()]
        return "; ".join(parts)

    def threshold_text(self) -> str:
        """'<what the dev split is> (<its size>)': the line a result note prints about its threshold."""
        n = len(set(self.dev.subject.tolist()))
        return f"{self.threshold_data} ({self.dev.summary()}; {n} subject{'' if n == 1 else 's'})"


def _json_dumps(obj: Any) -> str:
    import json

    return json.dumps(obj, sort_keys=True, default=str)


def _json_loads(text: str) -> Any:
    import json

    return json.loads(text)
