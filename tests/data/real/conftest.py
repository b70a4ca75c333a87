"""Miniature trees in each official layout, made of short synthetic videos (fas-toolkits.md §1).

Faces are drawn with OpenCV (an ellipse head with hair, brows, eyes, nose and mouth) — enough for
the Haar cascade to find them. Videos are 8 frames of 64×64, so a whole tree encodes in well under
a second.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

FRAMES = 8
SIDE = 64


def face_image(side: int = SIDE, shift: int = 0, tone: int = 0, background: int = 90) -> np.ndarray:
    import cv2

    img = np.full((side, side, 3), background, np.uint8)
    c = side // 2
    cx = c + shift
    cv2.ellipse(img, (cx, c), (int(side * 0.28), int(side * 0.38)), 0, 0, 360, (200 - tone, 170 - tone, 150 - tone), -1)
    cv2.ellipse(img, (cx, c - int(side * 0.25)), (int(side * 0.30), int(side * 0.16)), 0, 180, 360, (40, 30, 20), -1)
    eye_y, eye_dx = c - int(side * 0.08), int(side * 0.11)
    for s in (-1, 1):
        cv2.ellipse(img, (cx + s * eye_dx, eye_y), (int(side * 0.06), int(side * 0.03)), 0, 0, 360, (40, 30, 30), -1)
        cv2.line(img, (cx + s * eye_dx - int(side * 0.07), eye_y - int(side * 0.07)),
                 (cx + s * eye_dx + int(side * 0.07), eye_y - int(side * 0.07)), (50, 40, 30), max(1, side // 40))
    cv2.line(img, (cx, eye_y + int(side * 0.04)), (cx, c + int(side * 0.1)), (150, 120, 110), max(1, side // 50))
    cv2.ellipse(img, (cx, c + int(side * 0.2)), (int(side * 0.1), int(side * 0.03)), 0, 0, 360, (120, 60, 60), -1)
    return img


def face_frames(n: int = FRAMES, tone: int = 0) -> list[np.ndarray]:
    return [face_image(shift=(i % 3) - 1, tone=tone) for i in range(n)]


def blank_frames(n: int = FRAMES) -> list[np.ndarray]:
    return [np.full((SIDE, SIDE, 3), 120, np.uint8) for _ in range(n)]


def write_video(path: Path, frames: list[np.ndarray], rotation: int = 0, gop: int = 0) -> Path:
    """Encode RGB frames; ``rotation`` sets the display matrix (counter-clockwise degrees); ``gop`` the
    keyframe interval (0 = the codec's default)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    codec = "libx264" if path.suffix.lower() == ".mp4" else "mpeg4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=15)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        if gop:
            stream.codec_context.gop_size = gop
        if rotation:
            stream.set_display_rotation(rotation)
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_truncated_avi(path: Path, frames: list[np.ndarray], keep: int) -> Path:
    """An AVI whose header states ``len(frames)`` frames but whose file ends after ``keep`` of them
    (a copy cut short: the packets after and the index at the end are gone)."""
    write_video(path, frames)
    data = path.read_bytes()
    chunks, at = [], data.find(b"movi")
    while (at := data.find(b"00dc", at + 1)) != -1 and data.find(b"idx1") > at:
        chunks.append(at)
    path.write_bytes(data[: chunks[keep]])
    return path


def write_garbage(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a video at all" * 10)
    return path


# -- OULU-NPU ---------------------------------------------------------------------------------------
OULU_USERS = {"train": "01", "dev": "21", "test": "36"}
OULU_FOLDERS = {"train": "Train_files", "dev": "Dev_files", "test": "Test_files"}
OULU_PHONES, OULU_SESSIONS, OULU_FILES = (1, 2), (1, 3), (1, 2, 3, 4, 5)
OULU_TOKENS = {1: "+1", 2: "-1", 3: "-1", 4: "-2", 5: "-2"}  # as the official lists: print -1, video replay -2


def oulu_protocol_members(split: str, protocol: str, phone: int, session: int, file: int) -> bool:
    """The official protocol semantics (fas-toolkits.md §1.1), used to write the fixture lists."""
    base, _, fold = protocol.partition("-")
    test = split == "test"
    if base == "P1":
        return (session == 3) if test else session in (1, 2)
    if base == "P2":
        return file in ((1, 3, 5) if test else (1, 2, 4))
    k = int(fold)
    if base == "P3":
        return (phone == k) if test else phone != k
    return (session == 3 and phone == k and file in (1, 3, 5)) if test else (session in (1, 2) and phone != k and file in (1, 2, 4))


def make_oulu_tree(root: Path) -> Path:
    names = {}
    for split, user in OULU_USERS.items():
        for phone in OULU_PHONES:
            for session in OULU_SESSIONS:
                for file in OULU_FILES:
                    stem = f"{phone}_{session}_{user}_{file}"
                    write_video(root / OULU_FOLDERS[split] / f"{stem}.avi", face_frames())
                    (root / OULU_FOLDERS[split] / f"{stem}.txt").write_text("0,20,24,40,24\n")  # eye positions, ignored
                    names[stem] = (split, phone, session, file)
    protocols = ["P1", "P2"] + [f"P{p}-{k}" for p in (3, 4) for k in range(1, 7)]
    for protocol in protocols:
        base, _, fold = protocol.partition("-")
        folder = root / "Protocols" / f"Protocol_{base[1]}"
        folder.mkdir(parents=True, exist_ok=True)
        for split in ("train", "dev", "test"):
            lines = [f"{OULU_TOKENS[file]},{stem}" for stem, (s, phone, session, file) in sorted(names.items())
                     if s == split and oulu_protocol_members(split, protocol, phone, session, file)]
            file_name = f"{split.capitalize()}{'_' + fold if fold else ''}.txt"
            newline = "\r\n" if protocol == "P2" else "\n"  # lists copied through Windows keep CRLF
            (folder / file_name).write_bytes((newline.join(lines) + newline).encode())
    return root


# -- CASIA-FASD -------------------------------------------------------------------------------------
CASIA_CODES = ("1", "3", "HR_1", "HR_4")


def make_casia_tree(root: Path) -> Path:
    for release, clients in (("train_release", range(1, 5)), ("test_release", range(1, 3))):
        for client in clients:
            for code in CASIA_CODES:
                write_video(root / release / str(client) / f"{code}.avi", face_frames())
    return root


# -- Replay-Attack ----------------------------------------------------------------------------------
REPLAY_CLIENTS = {"train": "001", "devel": "003", "test": "007"}


def make_replay_tree(root: Path) -> Path:
    for folder, client in REPLAY_CLIENTS.items():
        write_video(root / folder / "real" / f"client{client}_session01_webcam_authenticate_adverse_1.mov", face_frames())
        write_video(root / folder / "attack" / "fixed" / f"attack_print_client{client}_session01_highdef_photo_controlled.mov", face_frames())
        write_video(root / folder / "attack" / "hand" / f"attack_highdef_client{client}_session01_highdef_video_adverse.mov", face_frames())
    write_video(root / "enroll" / "client001_session01_webcam_enroll_controlled_1.mov", face_frames())  # recognition only
    return root


# -- MSU-MFSD ---------------------------------------------------------------------------------------
def make_msu_tree(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "train_sub_list.txt").write_text("01\n02\n03")  # two-digit ids, no final newline, as shipped
    (root / "test_sub_list.txt").write_text("04\n05")
    for client in range(1, 6):
        frames = face_frames()
        if client == 2:  # stored turned clockwise, display matrix says: turn 90° counter-clockwise
            write_video(root / "scene01" / "real" / f"real_client{client:03d}_android_SD_scene01.mp4",
                        [np.ascontiguousarray(np.rot90(f, -1)) for f in frames], rotation=90)
        elif client == 3:  # upside down with no matrix: Bob's rotated_videos.txt names it
            write_video(root / "scene01" / "real" / f"real_client{client:03d}_android_SD_scene01.mp4",
                        [np.ascontiguousarray(np.rot90(f, 2)) for f in frames])
        else:
            write_video(root / "scene01" / "real" / f"real_client{client:03d}_android_SD_scene01.mp4", frames)
        write_video(root / "scene01" / "attack" / f"attack_client{client:03d}_laptop_SD_printed_photo_scene01.mov", face_frames())
    (root / "rotated_videos.txt").write_text("real/real_client003_android_SD_scene01\n")
    return root


# -- CelebA-Spoof -----------------------------------------------------------------------------------
def make_celeba_tree(root: Path) -> Path:
    import cv2

    labels: dict[str, dict[str, list[int]]] = {"train": {}, "test": {}}
    for split, subjects in (("train", ("10", "11", "12")), ("test", ("20",))):
        for subject in subjects:
            for kind, spoof_type in (("live", 0), ("spoof", 2)):
                key = f"Data/{split}/{subject}/{kind}/000001.png"
                image = np.zeros((100, 80, 3), np.uint8)
                image[18:82, 8:72] = face_image()
                path = root / key
                path.parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
                # box of the 64×64 face at (8, 18) in 224-px coordinates; subject 12 has an empty box file
                box = "" if subject == "12" else f"{8 * 224 / 80:.1f} {18 * 224 / 100:.1f} {64 * 224 / 80:.1f} {64 * 224 / 100:.1f} 0.99\n"
                path.with_name("000001_BB.txt").write_text(box)
                labels[split][key] = [0] * 40 + [spoof_type, 1, 2, int(kind == "spoof")]
    for split, entries in labels.items():
        meta = root / "metas" / "intra_test" / f"{split}_label.json"
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps(entries))
    return root


# -- generic ----------------------------------------------------------------------------------------
def make_generic_csv_tree(root: Path) -> Path:
    rows = ["path,label,pai,subject,video,split"]
    for subject, split in (("a", "train"), ("b", "dev"), ("c", "test")):
        write_video(root / "videos" / f"{subject}_live.mp4", face_frames())
        write_video(root / "videos" / f"{subject}_mask.mp4", face_frames(tone=40))
        rows += [f"videos/{subject}_live.mp4,1,,{subject},{subject}_live,{split}", f"videos/{subject}_mask.mp4,0,Mask/Silicone,{subject},{subject}_mask,{split}"]
    (root / "data.csv").write_text("\n".join(rows) + "\n")
    return root


def make_generic_lst_tree(root: Path) -> Path:
    for split, subject in (("train", "1"), ("dev", "2"), ("eval", "3")):
        write_video(root / "media" / f"live_{subject}.avi", face_frames())
        write_video(root / "media" / f"print_{subject}.avi", face_frames())
        (root / "lists" / split).mkdir(parents=True, exist_ok=True)
        (root / "lists" / split / "for_real.lst").write_text(f"media/live_{subject} {subject}\n")
        (root / "lists" / split / "for_attack.lst").write_text(f"media/print_{subject} {subject} print/1\n")
    return root


@pytest.fixture(scope="session")
def trees(tmp_path_factory):
    """Each official tree built once per session (read-only for tests: copy before damaging one)."""
    base = tmp_path_factory.mktemp("trees")
    return {
        "oulu-npu": make_oulu_tree(base / "OULU-NPU"),
        "casia-fasd": make_casia_tree(base / "CASIA-FASD"),
        "replay-attack": make_replay_tree(base / "replayattack"),
        "msu-mfsd": make_msu_tree(base / "MSU-MFSD"),
        "celeba-spoof": make_celeba_tree(base / "CelebA_Spoof"),
        "generic-csv": make_generic_csv_tree(base / "lab-csv"),
        "generic-lst": make_generic_lst_tree(base / "lab-lst"),
    }


@pytest.fixture(scope="session")
def prepared(trees, tmp_path_factory):
    """The four OCIM datasets prepared at 32 px into one vault's cache (once per session)."""
    from vaultlab.data.real.cache import dataset_cache_dir
    from vaultlab.data.real.prepare import PrepareSettings, prepare_dataset

    vault = tmp_path_factory.mktemp("vault")
    settings = PrepareSettings(frames="6+mid", size=32, shard_size=8)
    reports = {name: prepare_dataset(name, trees[name], dataset_cache_dir(vault, name), settings, workers=1)
               for name in ("oulu-npu", "casia-fasd", "replay-attack", "msu-mfsd")}
    return vault, reports
