"""What every dataset adapter returns: one ``VideoRecord`` per presentation (video or still image).

Adapters are pure readers of a licence holder's unpacked tree: they list files and parse names, and
never decode media. Every layout problem is a ``DatasetLayoutError`` whose message names the path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VIDEO_SUFFIXES = (".avi", ".mov", ".mp4", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v", ".wmv")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class DatasetLayoutError(ValueError):
    """The tree at a dataset root does not look like the official layout (message names the path)."""


@dataclass(frozen=True)
class VideoRecord:
    path: Path
    label: int  # 1 = bona fide, 0 = attack (vaultlab's convention, whatever the dataset uses)
    pai: str  # attack species, "" for bona fide
    subject: str  # dataset-local subject id
    video_id: str  # dataset-local, unique; protocol lists refer to it
    split: str  # the dataset's own split: train / dev / test
    dataset: str  # canonical dataset name; becomes the SampleSet's ``domain``
    extra: dict[str, Any] = field(default_factory=dict, compare=False)  # keys starting "_" stay private

    @property
    def is_image(self) -> bool:
        return self.path.suffix.lower() in IMAGE_SUFFIXES


def require_dir(path: Path, what: str, hint: str = "") -> Path:
    if not path.is_dir():
        tail = f" {hint}" if hint else ""
        raise DatasetLayoutError(f"{path}: {what} not found.{tail}")
    return path


def require_file(path: Path, what: str, hint: str = "") -> Path:
    if not path.is_file():
        tail = f" {hint}" if hint else ""
        raise DatasetLayoutError(f"{path}: {what} not found.{tail}")
    return path


def media_files(folder: Path, suffixes: tuple[str, ...] = VIDEO_SUFFIXES) -> list[Path]:
    """Files directly in ``folder`` with one of ``suffixes`` (case-insensitive), sorted."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)


def subject_sort_key(subject: str) -> tuple[int, str]:
    return (int(subject), subject) if subject.isdigit() else (1 << 30, subject)


def carve_dev_subjects(subjects: list[str], fraction: float) -> set[str]:
    """The last ``ceil(fraction * n)`` subjects by id (at least one when there are two or more).

    Deterministic and documented: with CASIA-FASD's 20 train clients and fraction 0.25 this gives
    clients 16–20, Bob's grandtest dev set.
    """
    ordered = sorted(set(subjects), key=subject_sort_key)
    if len(ordered) < 2:
        return set()
    k = max(1, math.ceil(fraction * len(ordered)))
    return set(ordered[-k:])
