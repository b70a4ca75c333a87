"""Idiap Replay-Attack: ``{train,devel,test}/real/*.mov`` and ``{train,devel,test}/attack/{fixed,hand}/*.mov``.

Names (bob.db.replay ``parse_real_filename`` / ``parse_attack_filename``, fas-toolkits.md §1.3):
real ``client001_session01_webcam_authenticate_adverse_1``; attack
``attack_highdef_client001_session01_highdef_photo_adverse`` — attack device (print, mobile,
highdef), client, session, sample device, sample type (photo, video), light. The support (fixed or
hand) is the parent folder; ``enroll/`` is for face recognition and is skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

from vaultlab.data.real.records import DatasetLayoutError, VideoRecord, media_files, require_dir

NAME = "replay-attack"
SPLIT_FOLDERS = {"train": "train", "dev": "devel", "test": "test"}
SUPPORTS = ("fixed", "hand")
_REAL = re.compile(r"^client(?P<client>\d+)_session(?P<session>\d+)_(?P<device>[a-z0-9]+)_(?P<purpose>authenticate|enroll)_(?P<light>adverse|controlled)_(?P<take>\d+)$")
_ATTACK = re.compile(r"^attack_(?P<attack_device>print|mobile|highdef)_client(?P<client>\d+)_session(?P<session>\d+)_(?P<sample_device>[a-z0-9]+)_(?P<sample_type>photo|video)_(?P<light>adverse|controlled)$")


def parse_real_name(stem: str) -> dict[str, str]:
    m = _REAL.match(stem)
    if not m:
        raise ValueError(f"{stem!r} is not a Replay-Attack real name like client001_session01_webcam_authenticate_adverse_1")
    return m.groupdict()


def parse_attack_name(stem: str) -> dict[str, str]:
    m = _ATTACK.match(stem)
    if not m:
        raise ValueError(f"{stem!r} is not a Replay-Attack attack name like attack_highdef_client001_session01_highdef_photo_adverse")
    return m.groupdict()


def attack_species(fields: dict[str, str]) -> str:
    """A printed photo is 'print'; a screen shows a photo or a video: 'replay-mobile-photo', …"""
    if fields["attack_device"] == "print":
        return "print"
    return f"replay-{fields['attack_device']}-{fields['sample_type']}"


def discover(root: Path) -> list[VideoRecord]:
    hint = "Point --root at the folder holding train/, devel/ and test/ (replayattack-database)."
    records = []
    for split, folder_name in SPLIT_FOLDERS.items():
        split_dir = require_dir(root / folder_name, "Replay-Attack split folder", hint)
        for path in media_files(require_dir(split_dir / "real", "Replay-Attack real folder", hint)):
            fields = _parse(parse_real_name, path)
            records.append(VideoRecord(path=path, label=1, pai="", subject=fields["client"], split=split, dataset=NAME,
                                       video_id=f"{folder_name}/real/{path.stem}", extra=fields))
        attack_dir = require_dir(split_dir / "attack", "Replay-Attack attack folder", hint)
        for support in SUPPORTS:
            support_dir = require_dir(attack_dir / support, f"Replay-Attack {support}-support attack folder", hint)
            for path in media_files(support_dir):
                fields = _parse(parse_attack_name, path) | {"support": support}
                records.append(VideoRecord(path=path, label=0, pai=attack_species(fields), subject=fields["client"],
                                           split=split, dataset=NAME, video_id=f"{folder_name}/attack/{support}/{path.stem}", extra=fields))
    if not records:
        raise DatasetLayoutError(f"{root}: no Replay-Attack videos in train/, devel/ or test/")
    return records


def _parse(parser, path: Path) -> dict[str, str]:
    try:
        return parser(path.stem)
    except ValueError as err:
        raise DatasetLayoutError(f"{path}: {err}") from None
