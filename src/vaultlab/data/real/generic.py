"""Anything else: Bob-style ``for_real.lst``/``for_attack.lst`` lists, or one CSV.

- Lists: ``<split>/for_real.lst`` and ``<split>/for_attack.lst`` anywhere below the root (split
  folder ``train``, ``dev``/``devel``, ``eval``/``test``), lines ``path client [attack_type]``; paths
  are relative to the root, with or without an extension. Several list sets (``lists/Protocol_1``,
  ``lists/Protocol_2``) need the ``lists`` option naming one.
- CSV: a ``*.csv`` in the root with header ``path,label,pai,subject,video`` and an optional
  ``split`` column. ``label`` is 1 (or real/live/bonafide) for bona fide and 0 (or
  attack/spoof/fake) for attacks — vaultlab's polarity; a row with a PAI and label 1 is refused.
  Without ``split``, subjects are split deterministically 60/20/20 by id.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from vaultlab.data.real.records import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    DatasetLayoutError,
    VideoRecord,
    carve_dev_subjects,
    subject_sort_key,
)

NAME = "generic"
SPLIT_WORDS = {"train": "train", "dev": "dev", "devel": "dev", "validation": "dev", "val": "dev", "eval": "test", "test": "test"}
BONA_FIDE_WORDS = {"1", "+1", "real", "live", "bonafide", "bona fide", "bona-fide", "genuine"}
ATTACK_WORDS = {"0", "-1", "attack", "spoof", "fake"}
CSV_COLUMNS = ("path", "label", "pai", "subject", "video")


def normalise_pai(text: str) -> str:
    """'print/1' → 'print-1'; 'Video Replay' → 'video-replay'."""
    return "-".join(text.strip().lower().replace("/", " ").replace("_", " ").split())


def parse_lst(text: str, label: int, split: str, source: str) -> list[tuple[str, int, str, str, str]]:
    """Bob ``.lst`` lines → (path, label, pai, subject, split)."""
    rows = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        if len(fields) < 2:
            raise DatasetLayoutError(f"{source}:{number}: expected 'path client [attack_type]', found {line!r}")
        pai = normalise_pai(" ".join(fields[2:])) if label == 0 else ""
        rows.append((fields[0], label, pai or ("attack" if label == 0 else ""), fields[1], split))
    return rows


def parse_label(text: str) -> int:
    word = text.strip().lower()
    if word in BONA_FIDE_WORDS:
        return 1
    if word in ATTACK_WORDS:
        return 0
    raise ValueError(f"label {text!r} is neither bona fide (1/real/live) nor attack (0/attack/spoof)")


def parse_csv(text: str, source: str) -> list[tuple[str, int, str, str, str, str]]:
    """CSV rows → (path, label, pai, subject, video, split or '')."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise DatasetLayoutError(f"{source}: header lacks {', '.join(missing)}; expected path,label,pai,subject,video[,split]")
    rows = []
    for number, row in enumerate(reader, 2):
        row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        try:
            label = parse_label(row["label"])
        except ValueError as err:
            raise DatasetLayoutError(f"{source}:{number}: {err}") from None
        pai = normalise_pai(row["pai"])
        if label == 1 and pai:
            raise DatasetLayoutError(f"{source}:{number}: label says bona fide but pai is {pai!r}; vaultlab uses 1 = bona fide")
        split = row.get("split", "")
        if split and split.lower() not in SPLIT_WORDS:
            raise DatasetLayoutError(f"{source}:{number}: split {split!r} is not train, dev or test")
        rows.append((row["path"], label, pai or ("attack" if label == 0 else ""), row["subject"], row["video"] or row["path"],
                     SPLIT_WORDS.get(split.lower(), "")))
    return rows


def split_subjects(subjects: list[str]) -> dict[str, str]:
    """Deterministic 60/20/20 train/dev/test by subject id, for a CSV without a split column."""
    ordered = sorted(set(subjects), key=subject_sort_key)
    test = carve_dev_subjects(ordered, 0.2)
    dev = carve_dev_subjects([s for s in ordered if s not in test], 0.25)
    return {s: "test" if s in test else "dev" if s in dev else "train" for s in ordered}


def resolve_media(root: Path, relative: str, source: str) -> Path:
    path = root / relative
    if path.suffix.lower() in VIDEO_SUFFIXES + IMAGE_SUFFIXES:
        return path
    for suffix in VIDEO_SUFFIXES + IMAGE_SUFFIXES:
        for candidate in (path.with_name(path.name + suffix), path.with_name(path.name + suffix.upper())):
            if candidate.is_file():
                return candidate
    raise DatasetLayoutError(f"{source}: lists {relative!r} but no such video or image is under {root}")


def discover(root: Path, lists: str | None = None) -> list[VideoRecord]:
    if not root.is_dir():
        raise DatasetLayoutError(f"{root}: dataset root folder not found.")
    csv_files = sorted(root.glob("*.csv"))
    if lists is None and csv_files:
        if len(csv_files) > 1:
            raise DatasetLayoutError(f"{root}: several CSV files ({', '.join(p.name for p in csv_files)}); keep one path,label,pai,subject,video CSV there")
        return _records_from_csv(root, csv_files[0])
    return _records_from_lists(root, root / lists if lists else root)


def _records_from_csv(root: Path, csv_file: Path) -> list[VideoRecord]:
    rows = parse_csv(csv_file.read_text(encoding="utf-8-sig"), str(csv_file))
    if not rows:
        raise DatasetLayoutError(f"{csv_file}: no rows")
    by_subject = split_subjects([r[3] for r in rows])
    return [VideoRecord(path=resolve_media(root, path, str(csv_file)), label=label, pai=pai, subject=subject, video_id=video,
                        split=split or by_subject[subject], dataset=NAME) for path, label, pai, subject, video, split in rows]


def _records_from_lists(root: Path, list_root: Path) -> list[VideoRecord]:
    real_lists = sorted(list_root.rglob("for_real.lst"))
    if not real_lists:
        raise DatasetLayoutError(f"{list_root}: no data CSV and no <split>/for_real.lst lists; see `vaultlab data prepare --help` for the generic layout")
    sets = sorted({p.parent.parent for p in real_lists})
    if len(sets) > 1:
        names = ", ".join(str(s.relative_to(root)) if s.is_relative_to(root) else str(s) for s in sets)
        raise DatasetLayoutError(f"{root}: several list sets ({names}); name one with the 'lists' option of the dataset's config entry")
    records = []
    for split_dir in sorted(p.parent for p in real_lists):
        split = SPLIT_WORDS.get(split_dir.name.lower())
        if split is None:
            raise DatasetLayoutError(f"{split_dir}: list folder must be named train, dev/devel or eval/test")
        rows = []
        for name, label in (("for_real.lst", 1), ("for_attack.lst", 0)):
            list_file = split_dir / name
            if list_file.is_file():
                rows += [(r, str(list_file)) for r in parse_lst(list_file.read_text(), label, split, str(list_file))]
        for (path, label, pai, subject, _), source in rows:
            media = resolve_media(root, path, source)
            records.append(VideoRecord(path=media, label=label, pai=pai, subject=subject,
                                       video_id=_strip_media_suffix(path), split=split, dataset=NAME))
    return records


def _strip_media_suffix(path: str) -> str:
    suffix = Path(path).suffix
    return path[: -len(suffix)] if suffix.lower() in VIDEO_SUFFIXES + IMAGE_SUFFIXES else path
