"""Broken trees give one clear error naming the path, and keep the progress already made."""

from __future__ import annotations

import shutil

import pytest

from conftest import blank_frames, face_frames, write_garbage, write_truncated_avi, write_video
from vaultlab.data.real.cache import PreparedDataError, load_prepared, read_manifest
from vaultlab.data.real.prepare import PrepareSettings, prepare_dataset
from vaultlab.data.real.records import DatasetLayoutError
from vaultlab.data.real.video import UnreadableMediaError

SMALL = PrepareSettings(size=32, shard_size=4)
REPLAY_REAL_DEV = "devel/real/client003_session01_webcam_authenticate_adverse_1"


def copy_tree(trees, name, tmp_path):
    return shutil.copytree(trees[name], tmp_path / name)


def test_wrong_root_names_the_missing_folder(trees, tmp_path):
    with pytest.raises(DatasetLayoutError, match=r"nowhere/Train_files: OULU-NPU video folder not found"):
        prepare_dataset("oulu-npu", tmp_path / "nowhere", tmp_path / "c", SMALL)
    with pytest.raises(DatasetLayoutError, match=r"train_release: CASIA-FASD release folder not found"):
        prepare_dataset("casia-fasd", trees["replay-attack"], tmp_path / "c", SMALL)
    assert not (tmp_path / "c").exists()


def test_missing_protocol_file_is_named(trees, tmp_path):
    root = copy_tree(trees, "oulu-npu", tmp_path)
    (root / "Protocols" / "Protocol_3" / "Dev_4.txt").unlink()
    with pytest.raises(DatasetLayoutError, match=r"Protocol_3/Dev_4.txt: OULU-NPU protocol list for P3-4 dev not found"):
        prepare_dataset("oulu-npu", root, tmp_path / "c", SMALL)


def test_protocol_naming_a_missing_video(trees, tmp_path):
    root = copy_tree(trees, "oulu-npu", tmp_path)
    (root / "Test_files" / "2_3_36_5.avi").unlink()
    with pytest.raises(DatasetLayoutError, match=r"Protocol_1/Test.txt:\d+: lists video 2_3_36_5 but no 2_3_36_5"):
        prepare_dataset("oulu-npu", root, tmp_path / "c", SMALL)


def test_oulu_token_naming_the_other_species_is_a_warning_with_file_and_line(trees, tmp_path):
    root = copy_tree(trees, "oulu-npu", tmp_path)
    path = root / "Protocols" / "Protocol_1" / "Test.txt"
    lines = path.read_text().splitlines()
    number = lines.index("-2,1_3_36_4") + 1
    lines[number - 1] = "-1,1_3_36_4"  # a replay video marked print
    path.write_text("\n".join(lines))  # and no final newline
    report = prepare_dataset("oulu-npu", root, tmp_path / "c", SMALL, workers=1)
    assert report.warnings == [f"{path}:{number}: token -1 (print) for 1_3_36_4, whose file code 4 says replay-1; kept as replay-1"]
    assert read_manifest(tmp_path / "c")["warnings"] == report.warnings
    data = load_prepared("oulu-npu", cache_dir=tmp_path / "c")
    assert set(data.pai[data.video == "1_3_36_4"].tolist()) == {"replay-1"}


def test_oulu_token_contradicting_the_file_code_is_an_error_with_file_and_line(trees, tmp_path):
    root = copy_tree(trees, "oulu-npu", tmp_path)
    path = root / "Protocols" / "Protocol_2" / "Train.txt"
    text = path.read_text().replace("+1,1_1_01_1", "-1,1_1_01_1")
    path.write_text(text)
    number = text.splitlines().index("-1,1_1_01_1") + 1
    with pytest.raises(DatasetLayoutError, match=rf"Protocol_2/Train.txt:{number}: labels 1_1_01_1 attack \(-1\), its file code 1 says real"):
        prepare_dataset("oulu-npu", root, tmp_path / "c", SMALL)


def test_msu_missing_subject_list(trees, tmp_path):
    root = copy_tree(trees, "msu-mfsd", tmp_path)
    (root / "test_sub_list.txt").unlink()
    with pytest.raises(DatasetLayoutError, match=r"test_sub_list.txt: MSU-MFSD test subject list not found"):
        prepare_dataset("msu-mfsd", root, tmp_path / "c", SMALL)


def test_unreadable_video_keeps_progress_and_resumes(trees, tmp_path):
    root = copy_tree(trees, "casia-fasd", tmp_path)
    bad = write_garbage(root / "train_release" / "4" / "HR_4.avi")  # the last video in id order
    cache = tmp_path / "cache"
    with pytest.raises(UnreadableMediaError, match=r"train_release/4/HR_4.avi: cannot"):
        prepare_dataset("casia-fasd", root, cache, SMALL, workers=2)  # the error comes back from a worker process
    manifest = read_manifest(cache)
    assert not manifest["complete"] and sum(s["videos"] for s in manifest["shards"].values()) == 20  # 5 shards of 4 kept
    with pytest.raises(PreparedDataError, match="did not finish; rerun"):
        load_prepared("casia-fasd", cache_dir=cache)
    write_video(bad, face_frames())  # the user fixes the file
    report = prepare_dataset("casia-fasd", root, cache, SMALL, workers=1)
    assert report.videos_resumed == 20 and report.videos == 4
    assert len(load_prepared("casia-fasd", cache_dir=cache)) == 48


def test_skip_bad_counts_and_lists(trees, tmp_path):
    root = copy_tree(trees, "replay-attack", tmp_path)
    bad = write_garbage(root / "test" / "real" / "client007_session01_webcam_authenticate_adverse_1.mov")
    report = prepare_dataset("replay-attack", root, tmp_path / "c", SMALL, skip_bad=True, workers=1)
    assert report.skipped == [str(bad)] and report.videos == 8
    assert read_manifest(tmp_path / "c")["skipped"] == [str(bad)]


def test_truncated_video_is_reported_and_sampled_on_the_frames_that_exist(trees, tmp_path):
    root = copy_tree(trees, "casia-fasd", tmp_path)
    truncated = write_truncated_avi(root / "train_release" / "2" / "3.avi", face_frames(12), keep=5)
    report = prepare_dataset("casia-fasd", root, tmp_path / "c", SMALL, workers=1)
    # 6+mid asks frames 6 and 12 of the 12 the container states (12 clamped to 11); 5 decode, so 6+mid on 5 frames: [4]
    facts = {"declared": 12, "decoded": 5, "requested": [6, 11], "kept": [4]}
    assert report.damaged == {"train_release/2/3": facts} and report.videos == 24
    assert read_manifest(tmp_path / "c")["damaged"] == {"train_release/2/3": facts}
    data = load_prepared("casia-fasd", cache_dir=tmp_path / "c")
    assert data.meta["frame_indices"]["train_release/2/3"] == [4] and (data.video == "train_release/2/3").sum() == 1
    assert "Damaged videos of casia-fasd (fewer frames decode than their container states), sampled on the frames that decode: 1." in data.meta["data_notes"]

    skipping = prepare_dataset("casia-fasd", root, tmp_path / "skip", SMALL, skip_bad=True, workers=1)
    assert skipping.skipped == [str(truncated)] and skipping.videos == 23
    assert skipping.damaged["train_release/2/3"] == facts | {"kept": [], "skipped": True}
    assert "train_release/2/3" not in set(load_prepared("casia-fasd", cache_dir=tmp_path / "skip").video.tolist())


def test_faceless_video_is_named_and_kept_or_dropped(trees, tmp_path):
    root = copy_tree(trees, "replay-attack", tmp_path)
    write_video(root / "devel" / "real" / "client003_session01_webcam_authenticate_adverse_1.mov", blank_frames())
    report = prepare_dataset("replay-attack", root, tmp_path / "lenient", SMALL, workers=1)
    assert report.centre_fallbacks == {REPLAY_REAL_DEV: [6, 7]} and report.centre_crops == 2 and report.videos == 9
    manifest = read_manifest(tmp_path / "lenient")
    assert manifest["centre_fallbacks"] == {REPLAY_REAL_DEV: [6, 7]} and manifest["face_stats"]["centre_fallback_videos"] == 1
    notes = load_prepared("replay-attack", cache_dir=tmp_path / "lenient").meta["data_notes"]
    assert notes[0].startswith("Face crops of replay-attack: 2 of 18 are centre fallbacks") and "in 1 video listed" in notes[0]

    strict = prepare_dataset("replay-attack", root, tmp_path / "strict", SMALL, require_face=True, workers=1)
    assert strict.dropped_no_face == [REPLAY_REAL_DEV] and strict.videos == 8 and strict.centre_crops == 0
    data = load_prepared("replay-attack", cache_dir=tmp_path / "strict")
    assert REPLAY_REAL_DEV not in set(data.video.tolist()) and len(set(data.video.tolist())) == 8
    assert data.meta["dropped_no_face"] == [REPLAY_REAL_DEV]
    assert data.meta["data_notes"][0].startswith("Face crops of replay-attack: none of the 16 is a centre fallback")


@pytest.mark.parametrize("name", ["oulu-npu", "casia-fasd", "replay-attack", "msu-mfsd", "celeba-spoof"])
def test_empty_folder_names_what_is_missing(tmp_path, name):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetLayoutError, match=r"/empty/\S+: .* not found"):
        prepare_dataset(name, tmp_path / "empty", tmp_path / "c", SMALL)
    assert not (tmp_path / "c").exists()


def test_nearest_face_frame_replaces_a_faceless_sampled_frame(trees, tmp_path):
    root = copy_tree(trees, "replay-attack", tmp_path)
    frames = face_frames()
    frames[6] = blank_frames(1)[0]  # the sampled frame 6 has no face; frame 5 and 7 do
    write_video(root / "train" / "real" / "client001_session01_webcam_authenticate_adverse_1.mov", frames)
    report = prepare_dataset("replay-attack", root, tmp_path / "c", SMALL, require_face=True, workers=1)
    assert report.substituted == 1 and report.centre_crops == 0 and report.dropped_no_face == []


def test_changed_settings_refuse_to_mix(trees, tmp_path):
    prepare_dataset("replay-attack", trees["replay-attack"], tmp_path / "c", SMALL, workers=1)
    with pytest.raises(PreparedDataError, match="another settings; rerun with --force"):
        prepare_dataset("replay-attack", trees["replay-attack"], tmp_path / "c", PrepareSettings(size=48, shard_size=4))
    prepare_dataset("replay-attack", trees["replay-attack"], tmp_path / "c", PrepareSettings(size=48, shard_size=4), force=True, workers=1)
    assert load_prepared("replay-attack", cache_dir=tmp_path / "c").image_size == 48
