"""Broken trees give one clear error naming the path, and keep the progress already made."""

from __future__ import annotations

import shutil

import pytest

from conftest import blank_frames, face_frames, write_garbage, write_video
from vaultlab.data.real.cache import PreparedDataError, load_prepared, read_manifest
from vaultlab.data.real.prepare import FaceNotFoundError, PrepareSettings, prepare_dataset
from vaultlab.data.real.records import DatasetLayoutError
from vaultlab.data.real.video import UnreadableMediaError

SMALL = PrepareSettings(size=32, shard_size=4)


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
    with pytest.raises(DatasetLayoutError, match=r"Protocol_1/Test.txt: lists video 2_3_36_5 but no 2_3_36_5"):
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
        prepare_dataset("casia-fasd", root, cache, SMALL)
    manifest = read_manifest(cache)
    assert not manifest["complete"] and sum(s["videos"] for s in manifest["shards"].values()) == 20  # 5 shards of 4 kept
    with pytest.raises(PreparedDataError, match="did not finish; rerun"):
        load_prepared("casia-fasd", cache_dir=cache)
    write_video(bad, face_frames())  # the user fixes the file
    report = prepare_dataset("casia-fasd", root, cache, SMALL)
    assert report.videos_resumed == 20 and report.videos == 4
    assert len(load_prepared("casia-fasd", cache_dir=cache)) == 48


def test_skip_bad_counts_and_lists(trees, tmp_path):
    root = copy_tree(trees, "replay-attack", tmp_path)
    bad = write_garbage(root / "test" / "real" / "client007_session01_webcam_authenticate_adverse_1.mov")
    report = prepare_dataset("replay-attack", root, tmp_path / "c", SMALL, skip_bad=True)
    assert report.skipped == [str(bad)] and report.videos == 8
    assert read_manifest(tmp_path / "c")["skipped"] == [str(bad)]


def test_face_not_found(trees, tmp_path):
    root = copy_tree(trees, "replay-attack", tmp_path)
    faceless = write_video(root / "devel" / "real" / "client003_session01_webcam_authenticate_adverse_1.mov", blank_frames())
    with pytest.raises(FaceNotFoundError, match=r"client003_session01_webcam_authenticate_adverse_1.mov: no face in frames \[6, 7\]"):
        prepare_dataset("replay-attack", root, tmp_path / "strict", SMALL, require_face=True)
    assert sum(s["videos"] for s in read_manifest(tmp_path / "strict")["shards"].values()) == 0  # it is the first video
    report = prepare_dataset("replay-attack", root, tmp_path / "lenient", SMALL)
    assert report.centre_crops == 2 and faceless.exists()


def test_nearest_face_frame_replaces_a_faceless_sampled_frame(trees, tmp_path):
    root = copy_tree(trees, "replay-attack", tmp_path)
    frames = face_frames()
    frames[6] = blank_frames(1)[0]  # the sampled frame 6 has no face; frame 5 and 7 do
    write_video(root / "train" / "real" / "client001_session01_webcam_authenticate_adverse_1.mov", frames)
    report = prepare_dataset("replay-attack", root, tmp_path / "c", SMALL, require_face=True)
    assert report.substituted == 1 and report.centre_crops == 0


def test_changed_settings_refuse_to_mix(trees, tmp_path):
    prepare_dataset("replay-attack", trees["replay-attack"], tmp_path / "c", SMALL)
    with pytest.raises(PreparedDataError, match="another settings; rerun with --force"):
        prepare_dataset("replay-attack", trees["replay-attack"], tmp_path / "c", PrepareSettings(size=48, shard_size=4))
    prepare_dataset("replay-attack", trees["replay-attack"], tmp_path / "c", PrepareSettings(size=48, shard_size=4), force=True)
    assert load_prepared("replay-attack", cache_dir=tmp_path / "c").image_size == 48
