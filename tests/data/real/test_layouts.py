"""Pure parsing of the official file names, protocol lists, labels and frame conventions."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaultlab.data.real import casia, celeba_spoof, generic, msu, oulu, replay
from vaultlab.data.real.layouts import canonical_name
from vaultlab.data.real.records import DatasetLayoutError, carve_dev_subjects
from vaultlab.data.real.sampling import parse_frame_convention, sampled_frame_indices


def test_oulu_name_grammar():
    assert oulu.parse_video_name("1_3_36_2") == {"phone": 1, "session": 3, "user": "36", "file": 2}
    assert oulu.FILE_CODE_PAI[5] == "replay-2"
    with pytest.raises(ValueError, match="Phone_Session_User_File"):
        oulu.parse_video_name("7_1_01_1")


def test_oulu_protocol_lines_and_files():
    assert oulu.parse_protocol_list("+1,1_1_01_1\n-1,1_1_01_2\n\n", "x") == [(1, "1_1_01_1"), (0, "1_1_01_2")]
    with pytest.raises(DatasetLayoutError, match="Train.txt:1"):
        oulu.parse_protocol_list("real 1_1_01_1", "Train.txt")
    files = oulu.protocol_list_files()
    assert files["P3-4"]["dev"] == "Protocol_3/Dev_4.txt" and files["P1"]["test"] == "Protocol_1/Test.txt"
    assert len(files) == 14


def test_casia_file_codes_give_pai_and_quality():
    assert casia.parse_file_code("1") == ("", "normal")
    assert casia.parse_file_code("4") == ("print-warped-lq", "low")
    assert casia.parse_file_code("HR_3") == ("print-cut-hq", "high")
    assert casia.parse_file_code("8") == ("replay-lq", "low")
    with pytest.raises(ValueError):
        casia.parse_file_code("9")


def test_casia_dev_is_bobs_grandtest_dev():
    assert carve_dev_subjects([str(i) for i in range(1, 21)], casia.DEV_FRACTION) == {"16", "17", "18", "19", "20"}


def test_replay_names():
    real = replay.parse_real_name("client001_session01_webcam_authenticate_adverse_1")
    assert real["client"] == "001" and real["light"] == "adverse"
    attack = replay.parse_attack_name("attack_highdef_client001_session01_highdef_photo_adverse")
    assert replay.attack_species(attack) == "replay-highdef-photo"
    assert replay.attack_species(replay.parse_attack_name("attack_print_client002_session01_highdef_photo_controlled")) == "print"
    with pytest.raises(ValueError):
        replay.parse_attack_name("attack_client001_session01_photo")


def test_msu_names_and_lists():
    assert msu.parse_video_name("attack_client002_android_SD_printed_photo_scene01")["pai"] == "print"
    assert msu.parse_video_name("real_client035_laptop_SD_scene01") == {"kind": "real", "client": "35", "device": "laptop", "pai": ""}
    with pytest.raises(ValueError):
        msu.parse_video_name("real_client002_android_SD_ipad_video_scene01")  # a real video has no PAI
    assert msu.parse_subject_list("01\n2\nclient003\n") == {"1", "2", "3"}


def test_celeba_labels_and_box_scaling():
    record = celeba_spoof.record_from_label("Data/train/4980/spoof/000003.jpg", [0] * 40 + [9, 1, 2, 1], Path("/r"))
    assert (record.label, record.pai, record.subject, record.split) == (0, "replay-phone", "4980", "train")
    live = celeba_spoof.record_from_label("Data/test/5/live/000001.jpg", [0] * 44, Path("/r"))
    assert (live.label, live.pai, live.split) == (1, "", "test")
    assert celeba_spoof.parse_box("") is None and celeba_spoof.parse_box("-3 4 10 10 0.9") is None
    assert celeba_spoof.scale_box((112, 56, 56, 112), width=448, height=112) == (224, 28, 112, 56)


def test_generic_csv_polarity_and_pai():
    rows = generic.parse_csv("path,label,pai,subject,video\nv.mp4,live,,s1,v\nw.mp4,0,Print/1,s1,w\n", "d.csv")
    assert rows[0][1:3] == (1, "") and rows[1][1:3] == (0, "print-1")
    with pytest.raises(DatasetLayoutError, match="d.csv:2.*1 = bona fide"):
        generic.parse_csv("path,label,pai,subject,video\nv.mp4,1,print,s1,v\n", "d.csv")
    with pytest.raises(DatasetLayoutError, match="lacks subject"):
        generic.parse_csv("path,label,pai,video\n", "d.csv")
    assert generic.parse_lst("a/b 7 video_replay\n# comment\n", 0, "train", "x") == [("a/b", 0, "video-replay", "7", "train")]


def test_generic_subject_split_is_deterministic():
    split = generic.split_subjects([str(i) for i in range(10)])
    assert [split[str(i)] for i in range(10)] == ["train"] * 6 + ["dev"] * 2 + ["test"] * 2


def test_frame_conventions():
    assert sampled_frame_indices(parse_frame_convention("6+mid"), 100) == [6, 56]
    assert sampled_frame_indices(parse_frame_convention("6+mid"), 8) == [6, 7]
    assert sampled_frame_indices(parse_frame_convention("every:5:20"), 100) == [0, 5, 10, 15]
    assert sampled_frame_indices(parse_frame_convention("uniform:3"), 11) == [0, 5, 10]
    assert parse_frame_convention("every:5").text == "every:5"
    with pytest.raises(ValueError, match="frame convention"):
        parse_frame_convention("random")


def test_dataset_names():
    assert canonical_name("OULU_NPU") == canonical_name("O") == "oulu-npu"
    assert canonical_name("Replay-Attack") == "replay-attack" and canonical_name("my-lab") == "my-lab"
