"""MSU-MFSD: ``real/real_client0XX_{android,laptop}_SD_scene01.{mp4,mov}``, ``attack/attack_client0XX_…``.

The root holds ``train_sub_list.txt`` (15 subjects) and ``test_sub_list.txt`` (20); videos may sit
under ``scene01/`` or directly under the root, so they are found anywhere below it by name
(fas-toolkits.md §1.4). No dev set ships: the last fifth of train subjects by id becomes dev.

Rotation: the decoder applies the container's display matrix; videos named in Bob's
``rotated_videos.txt`` (in the root or ``rotated_videos/``) that carry no such matrix are turned
180° (``extra["rotate_degrees"]``), as bob.db.msu_mfsd_mod does.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from vaultlab.data.real.records import (
    VIDEO_SUFFIXES,
    DatasetLayoutError,
    VideoRecord,
    carve_dev_subjects,
    require_file,
)

NAME = "msu-mfsd"
DEV_FRACTION = 0.2
_NAME = re.compile(r"^(?P<kind>real|attack)_client(?P<client>\d+)_(?P<device>android|laptop)_SD_(?:(?P<pai>ipad_video|iphone_video|printed_photo)_)?scene\d+$")
PAI_OF = {"ipad_video": "replay-ipad", "iphone_video": "replay-iphone", "printed_photo": "print"}


def parse_video_name(stem: str) -> dict[str, str]:
    """'attack_client002_android_SD_printed_photo_scene01' → kind attack, client '2', pai 'print'."""
    m = _NAME.match(stem)
    if not m or (m["kind"] == "attack") != (m["pai"] is not None):
        raise ValueError(f"{stem!r} is not an MSU-MFSD name like real_client002_android_SD_scene01")
    return {"kind": m["kind"], "client": str(int(m["client"])), "device": m["device"], "pai": PAI_OF.get(m["pai"] or "", "")}


def parse_subject_list(text: str) -> set[str]:
    """One subject id per line ('02', '2', 'client002' all mean subject 2)."""
    ids = set()
    for line in text.split():
        digits = re.sub(r"\D", "", line)
        if digits:
            ids.add(str(int(digits)))
    return ids


def parse_rotated_list(text: str) -> set[str]:
    return {Path(line.strip()).stem for line in text.splitlines() if line.strip()}


def discover(root: Path) -> list[VideoRecord]:
    if not root.is_dir():
        raise DatasetLayoutError(f"{root}: MSU-MFSD root folder not found.")
    hint = "It ships in the MSU-MFSD root beside scene01/."
    train = parse_subject_list(require_file(root / "train_sub_list.txt", "MSU-MFSD train subject list", hint).read_text())
    test = parse_subject_list(require_file(root / "test_sub_list.txt", "MSU-MFSD test subject list", hint).read_text())
    rotated = set()
    for candidate in (root / "rotated_videos.txt", root / "rotated_videos" / "rotated_videos.txt"):
        if candidate.is_file():
            rotated |= parse_rotated_list(candidate.read_text())
    records = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES):
        try:
            fields = parse_video_name(path.stem)
        except ValueError as err:
            raise DatasetLayoutError(f"{path}: {err}") from None
        subject = fields["client"]
        if subject not in train | test:
            raise DatasetLayoutError(f"{path}: subject {subject} is in neither train_sub_list.txt nor test_sub_list.txt of {root}")
        extra = {"device": fields["device"], "rotate_degrees": 180 if path.stem in rotated else 0}
        records.append(VideoRecord(path=path, label=int(fields["kind"] == "real"), pai=fields["pai"], subject=subject,
                                   video_id=path.stem, split="train" if subject in train else "test", dataset=NAME, extra=extra))
    if not records:
        raise DatasetLayoutError(f"{root}: no MSU-MFSD videos (real_client*/attack_client*) below it")
    dev = carve_dev_subjects([r.subject for r in records if r.split == "train"], DEV_FRACTION)
    return [replace(r, split="dev") if r.subject in dev else r for r in records]
