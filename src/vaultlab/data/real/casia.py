"""CASIA-FASD: ``train_release/<1..20>/`` and ``test_release/<1..30>/``, 12 videos per client.

File codes (fas-toolkits.md §1.2): 1, 2, HR_1 real; 3, 4, HR_2 warped photo; 5, 6, HR_3 cut photo;
7, 8, HR_4 video replay — each at normal, low, high quality. Test clients 1–30 are global clients
21–50. There is no official dev set: the last quarter of train clients (16–20, Bob's grandtest)
becomes dev.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from vaultlab.data.real.records import DatasetLayoutError, VideoRecord, carve_dev_subjects, media_files, require_dir

NAME = "casia-fasd"
DEV_FRACTION = 0.25
RELEASES = {"train_release": 0, "test_release": 20}  # folder → offset to the global client id
_KIND = {1: ("", "nq"), 2: ("", "lq"), 3: ("print-warped", "nq"), 4: ("print-warped", "lq"),
         5: ("print-cut", "nq"), 6: ("print-cut", "lq"), 7: ("replay", "nq"), 8: ("replay", "lq")}
_HR_KIND = {1: "", 2: "print-warped", 3: "print-cut", 4: "replay"}


def parse_file_code(stem: str) -> tuple[str, str]:
    """'HR_3' → ('print-cut-hq', 'high'); '2' → ('', 'low'). The PAI carries the quality."""
    quality_word = {"nq": "normal", "lq": "low", "hq": "high"}
    if stem.upper().startswith("HR_") and stem[3:].isdigit() and int(stem[3:]) in _HR_KIND:
        kind, quality = _HR_KIND[int(stem[3:])], "hq"
    elif stem.isdigit() and int(stem) in _KIND:
        kind, quality = _KIND[int(stem)]
    else:
        raise ValueError(f"{stem!r} is not a CASIA-FASD file code (1–8 or HR_1–HR_4)")
    return (f"{kind}-{quality}" if kind else ""), quality_word[quality]


def discover(root: Path) -> list[VideoRecord]:
    hint = "Point --root at the folder holding train_release/ and test_release/."
    records = []
    for release, offset in RELEASES.items():
        folder = require_dir(root / release, "CASIA-FASD release folder", hint)
        for client_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
            if not client_dir.name.isdigit():
                raise DatasetLayoutError(f"{client_dir}: expected numbered client folders (1, 2, …) in {folder}")
            subject = str(int(client_dir.name) + offset)
            for path in media_files(client_dir):
                try:
                    pai, quality = parse_file_code(path.stem)
                except ValueError as err:
                    raise DatasetLayoutError(f"{path}: {err}") from None
                records.append(
                    VideoRecord(path=path, label=int(pai == ""), pai=pai, subject=subject,
                                video_id=f"{release}/{client_dir.name}/{path.stem}",
                                split="train" if release == "train_release" else "test", dataset=NAME,
                                extra={"quality": quality, "client_on_disk": client_dir.name})
                )
    if not records:
        raise DatasetLayoutError(f"{root}: no CASIA-FASD videos under train_release/ or test_release/")
    dev = carve_dev_subjects([r.subject for r in records if r.split == "train"], DEV_FRACTION)
    return [replace(r, split="dev") if r.subject in dev else r for r in records]
