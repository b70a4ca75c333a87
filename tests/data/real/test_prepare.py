"""Each official miniature tree goes through prepare; the SampleSet says what the tree says."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from vaultlab.data.real.cache import load_prepared
from vaultlab.data.real.layouts import discover_dataset
from vaultlab.data.real.prepare import PrepareSettings, prepare_dataset
from vaultlab.data.real.pseudo import face_templates
from vaultlab.data.sampleset import SampleSet, pai_family

SMALL = PrepareSettings(frames="6+mid", size=32, shard_size=8)


def videos_of(data: SampleSet, **where) -> set[str]:
    mask = np.ones(len(data), bool)
    for column, value in where.items():
        mask &= getattr(data, column) == value
    return set(data.video[mask].tolist())


def video_counts(data: SampleSet) -> dict[tuple[str, int, str], int]:
    """Videos per (split, label, attack family)."""
    seen = {}
    for video, split, label, pai in zip(data.video.tolist(), data.split.tolist(), data.label.tolist(), data.pai.tolist()):
        seen[video] = (split, label, pai_family(pai))
    return dict(Counter(seen.values()))


def test_counts_per_split_label_and_attack_family(prepared):
    vault, _ = prepared
    counts = {name: video_counts(load_prepared(name, vault)) for name in ("oulu-npu", "casia-fasd", "replay-attack", "msu-mfsd")}
    # OULU: per folder 2 phones × 2 sessions × (1 real + 2 print + 2 replay)
    assert counts["oulu-npu"] == {(s, label, family): n for s in ("train", "dev", "test")
                                  for label, family, n in ((1, "", 4), (0, "print", 8), (0, "replay", 8))}
    # CASIA: codes 1 and HR_1 real, 3 warped print, HR_4 replay; train clients 1–3, carved dev client 4, test clients 21–22
    assert counts["casia-fasd"] == {("train", 1, ""): 6, ("train", 0, "print"): 3, ("train", 0, "replay"): 3,
                                    ("dev", 1, ""): 2, ("dev", 0, "print"): 1, ("dev", 0, "replay"): 1,
                                    ("test", 1, ""): 4, ("test", 0, "print"): 2, ("test", 0, "replay"): 2}
    # Replay-Attack: per split one real, one print (fixed support), one highdef replay (hand support); enroll/ skipped
    assert counts["replay-attack"] == {(s, label, family): 1 for s in ("train", "dev", "test")
                                       for label, family in ((1, ""), (0, "print"), (0, "replay"))}
    # MSU: train_sub_list 01–03 (03 carved to dev), test_sub_list 04–05; one real and one printed photo each
    assert counts["msu-mfsd"] == {("train", 1, ""): 2, ("train", 0, "print"): 2, ("dev", 1, ""): 1, ("dev", 0, "print"): 1,
                                  ("test", 1, ""): 2, ("test", 0, "print"): 2}


def test_output_does_not_depend_on_the_number_of_workers(trees, tmp_path):
    one = prepare_dataset("replay-attack", trees["replay-attack"], tmp_path / "one", SMALL, workers=1)
    two = prepare_dataset("replay-attack", trees["replay-attack"], tmp_path / "two", SMALL, workers=2)
    assert (one.workers, two.workers, one.images, two.images) == (1, 2, 18, 18)
    a, b = load_prepared("replay-attack", cache_dir=tmp_path / "one"), load_prepared("replay-attack", cache_dir=tmp_path / "two")
    assert np.array_equal(a.images, b.images) and a.video.tolist() == b.video.tolist()
    assert a.meta["frame_indices"] == b.meta["frame_indices"]


def test_shards_hold_no_pseudo_maps_and_load_makes_them(trees, tmp_path):
    prepare_dataset("replay-attack", trees["replay-attack"], tmp_path, SMALL, workers=1)
    shard = tmp_path / json.loads((tmp_path / "manifest.json").read_text())["shards"]["00000"]["file"]
    with np.load(shard) as stored:
        assert "depth" not in stored.files and "parsing" not in stored.files
    data = load_prepared("replay-attack", cache_dir=tmp_path)
    depth, parsing = face_templates(32, SMALL.crop_scale)
    assert all(np.array_equal(d, depth) for d in data.depth[data.label == 1]) and not data.depth[data.label == 0].any()
    assert all(np.array_equal(p, parsing) for p in data.parsing[data.label == 1]) and not data.parsing[data.label == 0].any()
    old = SampleSet.load(shard)  # a shard of format 1 stored the maps: they are kept as stored
    old.depth, old.parsing = np.full((len(old), 32, 32), 7, np.uint8), np.full((len(old), 32, 32), 3, np.uint8)
    old.save(shard)
    reloaded = load_prepared("replay-attack", cache_dir=tmp_path)
    assert (reloaded.depth[: len(old)] == 7).all() and (reloaded.parsing[: len(old)] == 3).all()


def test_oulu_prepared(prepared):
    vault, reports = prepared
    data = load_prepared("oulu-npu", vault)
    assert reports["oulu-npu"].videos == 60 and len(data) == 120  # 6+mid on 8 frames → frames 6 and 7
    assert data.meta["frames"] == "6+mid" and data.meta["frame_indices"]["1_1_01_1"] == [6, 7]
    assert "ellipse" in data.meta["depth_source"]
    assert set(data.pai[data.label == 1].tolist()) == {""}
    assert sorted(set(data.pai.tolist())) == ["", "print-1", "print-2", "replay-1", "replay-2"]
    assert videos_of(data, split="dev") == {v for v in data.video.tolist() if v.split("_")[2] == "21"}
    assert set(data.subject[data.split == "test"].tolist()) == {"36"}
    assert data.images.dtype == np.uint8 and data.images.shape[1:] == (32, 32, 3)
    assert data.depth[data.label == 1].max() > 240 and data.depth[data.label == 0].max() == 0
    assert data.parsing[data.label == 1].max() == 6 and data.parsing[data.label == 0].max() == 0
    assert data.meta["videos"]["1_3_36_2"] == {"phone": 1, "session": 3, "user": "36", "file": 2}
    assert data.meta["face_stats"]["centre_crops"] == 0


def test_casia_prepared(prepared):
    vault, _ = prepared
    data = load_prepared("casia-fasd", vault)
    assert set(data.subject.tolist()) == {"1", "2", "3", "4", "21", "22"}  # test clients 1–2 are global 21–22
    assert set(data.subject[data.split == "dev"].tolist()) == {"4"}
    assert set(data.subject[data.split == "test"].tolist()) == {"21", "22"}
    assert set(data.pai.tolist()) == {"", "print-warped-nq", "replay-hq"}
    assert data.meta["videos"]["train_release/1/HR_1"]["quality"] == "high"
    assert int(data.label[data.video == "train_release/1/HR_1"][0]) == 1


def test_replay_prepared(prepared):
    vault, _ = prepared
    data = load_prepared("replay-attack", vault)
    assert len(set(data.video.tolist())) == 9  # enroll/ is not read
    assert {s: set(data.subject[data.split == s].tolist()) for s in ("train", "dev", "test")} == {"train": {"001"}, "dev": {"003"}, "test": {"007"}}
    assert set(data.pai.tolist()) == {"", "print", "replay-highdef-video"}
    hand = [v for v, facts in data.meta["videos"].items() if facts.get("support") == "hand"]
    assert hand == ["devel/attack/hand/attack_highdef_client003_session01_highdef_video_adverse",
                    "test/attack/hand/attack_highdef_client007_session01_highdef_video_adverse",
                    "train/attack/hand/attack_highdef_client001_session01_highdef_video_adverse"]


def test_msu_prepared_with_rotations(prepared, trees):
    import av

    from vaultlab.data.real.faces import FaceDetector
    from vaultlab.data.real.video import iter_frames

    vault, _ = prepared
    data = load_prepared("msu-mfsd", vault)
    assert {s: set(data.subject[data.split == s].tolist()) for s in ("train", "dev", "test")} == {"train": {"1", "2"}, "dev": {"3"}, "test": {"4", "5"}}
    assert data.meta["face_stats"] == {"images": 20, "substituted_nearest_face": 0, "centre_crops": 0, "centre_fallback_videos": 0}
    assert data.meta["videos"]["real_client003_android_SD_scene01"]["rotate_degrees"] == 180
    # the rotated files really need turning: the detector misses their faces as stored
    detector = FaceDetector()
    for name in ("real_client002_android_SD_scene01", "real_client003_android_SD_scene01"):
        path = trees["msu-mfsd"] / "scene01" / "real" / f"{name}.mp4"
        with av.open(str(path)) as container:
            raw = next(container.decode(video=0)).to_ndarray(format="rgb24")
        assert detector.largest_face(raw) is None
        upright = dict(iter_frames(path, [0], extra_rotation=180 if name.endswith("3_android_SD_scene01") else 0))[0]
        assert detector.largest_face(upright) is not None


def test_celeba_prepared_uses_scaled_boxes(trees, tmp_path):
    report = prepare_dataset("celeba-spoof", trees["celeba-spoof"], tmp_path / "cache", SMALL, workers=1)
    data = load_prepared("celeba-spoof", cache_dir=tmp_path / "cache")
    assert report.images == 8 and report.centre_crops == 0
    assert set(data.split.tolist()) == {"train", "dev", "test"} and set(data.subject[data.split == "dev"].tolist()) == {"12"}
    assert set(data.pai.tolist()) == {"", "print-poster"}
    # the box crop is centred on the face, not on the 80×100 image: the face centre row is bright skin
    live = data.images[(data.subject == "10") & (data.label == 1)][0]
    assert live[16, 16].mean() > 120


def test_generic_csv_and_lists(trees, tmp_path):
    csv = discover_dataset("generic", trees["generic-csv"]).records
    assert {(r.video_id, r.label, r.pai, r.split) for r in csv if r.subject == "b"} == {("b_live", 1, "", "dev"), ("b_mask", 0, "mask-silicone", "dev")}
    lst = discover_dataset("generic", trees["generic-lst"]).records
    assert {(r.video_id, r.split, r.pai) for r in lst if r.subject == "3"} == {("media/live_3", "test", ""), ("media/print_3", "test", "print-1")}
    report = prepare_dataset("lab", trees["generic-lst"], tmp_path / "c", SMALL, layout="generic", workers=1)
    assert report.videos == 6 and load_prepared("lab", cache_dir=tmp_path / "c").domain[0] == "generic"


def test_manifest_records_the_conventions(prepared):
    vault, _ = prepared
    manifest = json.loads((vault / ".vaultlab/cache/datasets/oulu-npu/manifest.json").read_text())
    assert manifest["complete"] and manifest["settings"]["frames"] == "6+mid"
    assert manifest["settings"]["detector"].startswith("haar-frontalface-default (shrunk by a whole factor, in halving steps, to a long side ≤ 240 px")
    assert manifest["settings"]["crop_resize"].startswith("box average (video: in YUV 4:2:0) by the whole factor")
    assert manifest["settings"]["depth_source"].startswith("ellipse-template")
    assert len(manifest["shards"]) == 8  # 60 videos in shards of 8


@pytest.mark.parametrize("frames,expected", [("uniform:3", [0, 4, 7]), ("every:3", [0, 3, 6])])
def test_other_frame_conventions(trees, tmp_path, frames, expected):
    settings = PrepareSettings(frames=frames, size=32)
    prepare_dataset("replay-attack", trees["replay-attack"], tmp_path, settings, workers=1)
    data = load_prepared("replay-attack", cache_dir=tmp_path)
    assert len(data) == 9 * len(expected) and set(map(tuple, data.meta["frame_indices"].values())) == {tuple(expected)}
