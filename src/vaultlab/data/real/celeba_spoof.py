"""CelebA-Spoof: ``Data/{train,test}/<subject>/{live,spoof}/<id>.jpg`` + ``<id>_BB.txt``, labels in JSON.

The intra-dataset label files are ``train_label.json`` and ``test_label.json``; the distribution keeps
both in ``metas/intra_test/`` (kprokofi's loader reads them there), some copies keep the train file in
``metas/intra_train/``: both folders are read, and an image listed twice must carry the same values.
Each maps ``"Data/train/4980/spoof/000003.jpg"`` to 44
ints: [40] spoof type, [41] illumination, [42] environment, [43] live/spoof with 1 = spoof
(fas-toolkits.md §1.5). ``_BB.txt`` holds ``x y w h score`` in the coordinates of a 224×224
rescale, so it is scaled by ``width/224``, ``height/224``; empty or negative boxes fall back to the
face detector. Dev = the last tenth of train subjects by id.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from vaultlab.data.real.records import DatasetLayoutError, VideoRecord, carve_dev_subjects, require_dir

NAME = "celeba-spoof"
DEV_FRACTION = 0.1
BOX_REFERENCE_SIZE = 224
SPOOF_TYPE_PAI = {0: "", 1: "print-photo", 2: "print-poster", 3: "print-a4", 4: "mask-face", 5: "mask-upperbody",
                  6: "mask-region", 7: "replay-pc", 8: "replay-pad", 9: "replay-phone", 10: "mask-3d"}


def record_from_label(key: str, values: list[int], root: Path) -> VideoRecord:
    """One JSON entry → a record. The label comes from [43] (1 = spoof), the species from [40]."""
    parts = Path(key).parts
    if not isinstance(values, list) or len(values) < 44 or len(parts) < 5 or parts[0] != "Data":
        raise ValueError(f"entry {key!r}: expected 'Data/<split>/<subject>/<live|spoof>/<id>.jpg' with 44 values")
    is_spoof = int(values[43]) == 1
    pai = SPOOF_TYPE_PAI.get(int(values[40]), f"spoof-{int(values[40])}") if is_spoof else ""
    if is_spoof and not pai:
        pai = "spoof-unknown"
    path = root / key
    return VideoRecord(path=path, label=0 if is_spoof else 1, pai=pai, subject=parts[2], video_id=str(Path(key).with_suffix("")),
                       split="test" if parts[1] == "test" else "train", dataset=NAME,
                       extra={"illumination": int(values[41]), "environment": int(values[42]),
                              "_box_file": str(path.with_name(path.stem + "_BB.txt"))})


def parse_box(text: str) -> tuple[float, float, float, float] | None:
    """'x y w h score' → (x, y, w, h) in 224-px coordinates; None when empty or not positive."""
    numbers = text.split()
    if len(numbers) < 4:
        return None
    try:
        x, y, w, h = (float(v) for v in numbers[:4])
    except ValueError:
        return None
    if w <= 0 or h <= 0 or x < 0 or y < 0:
        return None
    return x, y, w, h


def scale_box(box: tuple[float, float, float, float], width: int, height: int) -> tuple[int, int, int, int]:
    """A ``_BB.txt`` box in 224-px coordinates → pixel box of an image ``width``×``height``."""
    sx, sy = width / BOX_REFERENCE_SIZE, height / BOX_REFERENCE_SIZE
    x, y, w, h = box
    return round(x * sx), round(y * sy), max(1, round(w * sx)), max(1, round(h * sy))


LABEL_FOLDERS = ("intra_test", "intra_train")


def read_label_files(root: Path) -> dict[str, tuple[list[int], Path]]:
    """Every entry of the train and the test label files: image key → (44 values, the file listing it)."""
    entries: dict[str, tuple[list[int], Path]] = {}
    for split in ("train", "test"):
        candidates = [root / "metas" / folder / f"{split}_label.json" for folder in LABEL_FOLDERS]
        found = [path for path in candidates if path.is_file()]
        if not found:
            raise DatasetLayoutError(f"{candidates[0]}: CelebA-Spoof {split} label file not found (nor {candidates[1]}). "
                                     "Point --root at the folder holding Data/ and metas/.")
        for label_file in found:
            try:
                labels = json.loads(label_file.read_text())
            except json.JSONDecodeError as err:
                raise DatasetLayoutError(f"{label_file}: not valid JSON ({err})") from None
            if not isinstance(labels, dict):
                raise DatasetLayoutError(f"{label_file}: expected a JSON object mapping image paths to 44 values")
            for key, values in labels.items():
                if key in entries and entries[key][0] != values:
                    raise DatasetLayoutError(f"{label_file}: {key} has other values than in {entries[key][1]}")
                entries.setdefault(key, (values, label_file))
    return entries


def discover(root: Path) -> list[VideoRecord]:
    require_dir(root / "Data", "CelebA-Spoof image folder", "Point --root at the folder holding Data/ and metas/.")
    records = []
    for key, (values, label_file) in sorted(read_label_files(root).items()):
        try:
            records.append(record_from_label(key, values, root))
        except ValueError as err:
            raise DatasetLayoutError(f"{label_file}: {err}") from None
    if not records:
        raise DatasetLayoutError(f"{root}/metas: the label files list no images")
    dev = carve_dev_subjects([r.subject for r in records if r.split == "train"], DEV_FRACTION)
    return [replace(r, split="dev") if r.subject in dev else r for r in records]
