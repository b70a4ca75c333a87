"""Export FLIP / ViTAF-compatible MCIO lists (``data/MCIO/txt/<ds>_<real|fake>_<train|test|shot>.txt``).

Per dataset, following their lists (fas-toolkits.md §2.1, §4.3): ``*_train`` holds every video of
the literature pool (train+test, official dev dropped), ``*_shot`` the first ``shots`` videos per
class in a fixed order (sha1 of the video id — FLIP's own choice is not published), ``*_test`` the
pool minus the shot videos. Each line names ``frame0`` of a video, as theirs do:
``<ds>/<train|test>/<real|fake>/<video>_frame0.png`` relative to ``data/MCIO/frame/``. With
``write_frames`` the first two cached crops of each video are written there as ``frame0``/``frame1``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from vaultlab.data.protocols_real import MCIO_SHORT_NAMES, literature_pool
from vaultlab.data.sampleset import SampleSet


def _video_stem(dataset: str, video: str) -> str:
    """'casia-fasd/train_release/1/HR_1' (joined) or 'train_release/1/HR_1' → 'train_release_1_HR_1'."""
    return video.removeprefix(f"{dataset}/").replace("/", "_")


def mcio_frame_path(dataset: str, split: str, label: int, video: str, frame: int = 0) -> str:
    on_disk_split = "test" if split == "test" else "train"  # carved dev clients of C/M belong to their train release
    return f"{MCIO_SHORT_NAMES.get(dataset, dataset)}/{on_disk_split}/{'real' if label == 1 else 'fake'}/{_video_stem(dataset, video)}_frame{frame}.png"


def mcio_lists(data: SampleSet, shots: int = 10) -> dict[str, list[str]]:
    """File name → lines, for every dataset (domain) in ``data``. Pure."""
    pool = literature_pool(data)
    videos: dict[tuple[str, str], tuple[str, int]] = {}
    for row in np.flatnonzero(pool).tolist():
        key = (str(data.domain[row]), str(data.video[row]))
        videos.setdefault(key, (str(data.split[row]), int(data.label[row])))
    lists: dict[str, list[str]] = {}
    for dataset in sorted({d for d, _ in videos}):
        short = MCIO_SHORT_NAMES.get(dataset, dataset)
        for label, word in ((1, "real"), (0, "fake")):
            members = sorted(((v, s) for (d, v), (s, lab) in videos.items() if d == dataset and lab == label),
                             key=lambda item: hashlib.sha1(item[0].encode()).hexdigest())
            lines = [mcio_frame_path(dataset, s, label, v) for v, s in members]
            lists[f"{short}_{word}_train.txt"] = sorted(lines)
            lists[f"{short}_{word}_shot.txt"] = lines[:shots]
            lists[f"{short}_{word}_test.txt"] = sorted(lines[shots:])
    return lists


def export_mcio_lists(data: SampleSet, out_dir: Path, shots: int = 10, write_frames: bool = False) -> list[Path]:
    """Write the lists to ``out_dir/txt/`` (and frames to ``out_dir/frame/``); returns the list files."""
    out_dir = Path(out_dir)
    written = []
    for name, lines in mcio_lists(data, shots).items():
        path = out_dir / "txt" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{line}\n" for line in lines))
        written.append(path)
    if write_frames:
        import cv2

        pool = literature_pool(data)
        first_rows: dict[str, list[int]] = {}
        for row in np.flatnonzero(pool).tolist():
            first_rows.setdefault(f"{data.domain[row]}\t{data.video[row]}", []).append(row)
        for key, rows in first_rows.items():
            dataset, video = key.split("\t")
            for frame, row in enumerate((rows + rows)[:2]):  # a one-frame video repeats its frame
                path = out_dir / "frame" / mcio_frame_path(dataset, str(data.split[row]), int(data.label[row]), video, frame)
                path.parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(path), cv2.cvtColor(data.images[row], cv2.COLOR_RGB2BGR))
    return written

