"""OULU-NPU: ``{Train,Dev,Test}_files/P_S_UU_F.avi`` and ``Protocols/Protocol_{1..4}`` lists.

File name ``Phone_Session_User_File`` (e.g. ``1_3_36_2``): phone 1–6, session 1–3, user 01–55,
file 1 = real, 2 = print/1, 3 = print/2, 4 = video_replay/1, 5 = video_replay/2
(fas-toolkits.md §1.1). Protocol lines read ``<token>,<video>``: ``+1`` real, and any negative token an
attack — the lists mark print ``-1`` and video replay ``-2``, and public OULU parsers only test the
sign. The species always comes from the file code; a token that names the other species is a
warning with ``file:line``, a token whose sign contradicts the file code an error.
"""

from __future__ import annotations

import re
from pathlib import Path

from vaultlab.data.real.records import DatasetLayoutError, VideoRecord, media_files, require_dir, require_file
from vaultlab.data.sampleset import pai_family

NAME = "oulu-npu"
SPLIT_FOLDERS = {"train": "Train_files", "dev": "Dev_files", "test": "Test_files"}
FILE_CODE_PAI = {1: "", 2: "print-1", 3: "print-2", 4: "replay-1", 5: "replay-2"}
FOLDS = range(1, 7)
TOKEN_SPECIES = {-1: "print", -2: "replay"}  # the negative tokens of the official lists
_NAME = re.compile(r"^(?P<phone>[1-6])_(?P<session>[1-3])_(?P<user>\d{2})_(?P<file>[1-5])$")


def parse_video_name(stem: str) -> dict[str, int | str]:
    """'1_3_36_2' → phone 1, session 3, user '36', file 2 (print/1)."""
    m = _NAME.match(stem)
    if not m:
        raise ValueError(f"{stem!r} is not an OULU-NPU name Phone_Session_User_File (e.g. 1_3_36_2)")
    return {"phone": int(m["phone"]), "session": int(m["session"]), "user": m["user"], "file": int(m["file"])}


def protocol_list_files() -> dict[str, dict[str, str]]:
    """Protocol name → split → list file relative to ``Protocols/`` (P1, P2, P3-1…P3-6, P4-1…P4-6)."""
    names: dict[str, dict[str, str]] = {}
    for p in (1, 2):
        names[f"P{p}"] = {split: f"Protocol_{p}/{split.capitalize()}.txt" for split in ("train", "dev", "test")}
    for p in (3, 4):
        for k in FOLDS:
            names[f"P{p}-{k}"] = {split: f"Protocol_{p}/{split.capitalize()}_{k}.txt" for split in ("train", "dev", "test")}
    return names


def parse_protocol_list(text: str, source: str) -> list[tuple[int, int, str]]:
    """Lines ``+1,1_1_01_1`` / ``-2,1_1_01_4`` → [(line number, token, video)]; ``source`` names the file in errors."""
    entries = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        token, _, video = (part.strip() for part in line.partition(","))
        if not re.fullmatch(r"[+-]?[1-9]\d*", token) or not video:
            raise DatasetLayoutError(f"{source}:{number}: expected '<label>,<video>' with label +1 (real) or negative "
                                     f"(attack: -1 print, -2 replay), found {line!r}")
        entries.append((number, int(token), Path(video).stem))
    return entries


def check_token(token: int, record: VideoRecord, where: str) -> str | None:
    """None when the token agrees with the file code; a warning when it names the other attack species.
    A token whose sign contradicts the file code (bona fide vs attack) is an error."""
    if (token > 0) != (record.label == 1):
        raise DatasetLayoutError(f"{where}: labels {record.video_id} {'real' if token > 0 else 'attack'} ({token:+d}), "
                                 f"its file code {record.extra['file']} says {'real' if record.label else record.pai}")
    if token > 0:
        return None
    if TOKEN_SPECIES.get(token) == pai_family(record.pai):
        return None
    named = TOKEN_SPECIES.get(token, "no known species")
    return f"{where}: token {token} ({named}) for {record.video_id}, whose file code {record.extra['file']} says {record.pai}; kept as {record.pai}"


def discover(root: Path) -> list[VideoRecord]:
    records = []
    for split, folder_name in SPLIT_FOLDERS.items():
        folder = require_dir(root / folder_name, "OULU-NPU video folder", "Point --root at the folder holding Train_files/, Dev_files/, Test_files/ and Protocols/.")
        for path in media_files(folder):
            try:
                fields = parse_video_name(path.stem)
            except ValueError as err:
                raise DatasetLayoutError(f"{path}: {err}") from None
            code = int(fields["file"])
            records.append(
                VideoRecord(path=path, label=int(code == 1), pai=FILE_CODE_PAI[code], subject=str(fields["user"]),
                            video_id=path.stem, split=split, dataset=NAME, extra=fields)
            )
    if not records:
        raise DatasetLayoutError(f"{root}: no OULU-NPU videos in {', '.join(SPLIT_FOLDERS.values())}")
    return records


def protocol_lists(root: Path, records: list[VideoRecord], warnings: list[str] | None = None) -> dict[str, dict[str, list[str]]]:
    """Every official protocol list, checked against the videos on disk and their file codes.
    Species disagreements are appended to ``warnings`` as ``file:line: …``."""
    folder = require_dir(root / "Protocols", "OULU-NPU protocol folder", "It ships with the dataset as Protocols/Protocol_1..4.")
    by_id = {r.video_id: r for r in records}
    lists: dict[str, dict[str, list[str]]] = {}
    for protocol, files in protocol_list_files().items():
        lists[protocol] = {}
        for split, relative in files.items():
            path = require_file(folder / relative, f"OULU-NPU protocol list for {protocol} {split}")
            ids = []
            for number, token, video in parse_protocol_list(path.read_text(encoding="utf-8-sig"), str(path)):
                record = by_id.get(video)
                if record is None:
                    raise DatasetLayoutError(f"{path}:{number}: lists video {video} but no {video}.* is in {', '.join(SPLIT_FOLDERS.values())}")
                warning = check_token(token, record, f"{path}:{number}")
                if warning and warnings is not None:
                    warnings.append(warning)
                ids.append(video)
            lists[protocol][split] = ids
    return lists
