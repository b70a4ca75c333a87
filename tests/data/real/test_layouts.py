"""Pure parsing of the official file names, protocol lists, labels and frame conventions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vaultlab.data.real import casia, celeba_spoof, generic, msu, oulu, replay
from vaultlab.data.real.layouts import canonical_name
from vaultlab.data.real.records import DatasetLayoutError, VideoRecord, carve_dev_subjects
from vaultlab.data.real.sampling import asks_past_end, parse_frame_convention, sampled_frame_indices


def test_oulu_name_grammar():
    assert oulu.parse_video_name("1_3_36_2") == {"phone": 1, "session": 3, "user": "36", "file": 2}
    assert oulu.FILE_CODE_PAI[5] == "replay-2"
    with pytest.raises(ValueError, match="Phone_Session_User_File"):
        oulu.parse_video_name("7_1_01_1")


def test_oulu_protocol_lines_and_files():
    text = "+1,1_1_01_1\r\n-1,1_1_01_2\n\n-2,1_3_36_4\n1,1_1_01_1"
    assert oulu.parse_protocol_list(text, "x") == [(1, 1, "1_1_01_1"), (2, -1, "1_1_01_2"), (4, -2, "1_3_36_4"), (5, 1, "1_1_01_1")]
    with pytest.raises(DatasetLayoutError, match="Train.txt:1: expected '<label>,<video>'"):
        oulu.parse_protocol_list("real 1_1_01_1", "Train.txt")
    with pytest.raises(DatasetLayoutError, match="Test.txt:2:.*found '0,1_1_01_2'"):
        oulu.parse_protocol_list("+1,1_1_01_1\n0,1_1_01_2", "Test.txt")
    files = oulu.protocol_list_files()
    assert files["P3-4"]["dev"] == "Protocol_3/Dev_4.txt" and files["P1"]["test"] == "Protocol_1/Test.txt"
    assert len(files) == 14


def oulu_record(stem: str):
    fields = oulu.parse_video_name(stem)
    return VideoRecord(path=Path(stem), label=int(fields["file"] == 1), pai=oulu.FILE_CODE_PAI[fields["file"]], subject="1",
                       video_id=stem, split="train", dataset="oulu-npu", extra=fields)


def test_oulu_tokens_any_negative_is_an_attack_species_from_the_file_code():
    assert oulu.check_token(-1, oulu_record("1_1_01_3"), "T.txt:3") is None  # print/2 marked -1
    assert oulu.check_token(-2, oulu_record("1_1_01_5"), "T.txt:4") is None  # replay/2 marked -2
    assert oulu.check_token(+1, oulu_record("1_1_01_1"), "T.txt:1") is None
    assert oulu.check_token(-2, oulu_record("1_1_01_2"), "T.txt:7") == (
        "T.txt:7: token -2 (replay) for 1_1_01_2, whose file code 2 says print-1; kept as print-1")
    assert "token -3 (no known species)" in oulu.check_token(-3, oulu_record("1_1_01_4"), "T.txt:9")
    with pytest.raises(DatasetLayoutError, match=r"T.txt:2: labels 1_1_01_4 real \(\+1\), its file code 4 says replay-1"):
        oulu.check_token(+1, oulu_record("1_1_01_4"), "T.txt:2")
    with pytest.raises(DatasetLayoutError, match=r"T.txt:5: labels 1_1_01_1 attack \(-2\), its file code 1 says real"):
        oulu.check_token(-2, oulu_record("1_1_01_1"), "T.txt:5")


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


def test_celeba_reads_train_and_test_label_files_from_intra_test_and_intra_train(tmp_path):
    (tmp_path / "Data").mkdir()
    live, spoof = [0] * 44, [0] * 40 + [3, 1, 1, 1]

    def write(folder: str, split: str, entries: dict) -> None:
        path = tmp_path / "metas" / folder / f"{split}_label.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(entries))

    write("intra_train", "train", {"Data/train/1/live/000001.jpg": live, "Data/train/2/spoof/000002.jpg": spoof})
    write("intra_test", "test", {"Data/test/9/spoof/000003.jpg": spoof})
    records = celeba_spoof.discover(tmp_path)
    assert [(r.video_id, r.label, r.pai, r.split) for r in records] == [
        ("Data/test/9/spoof/000003", 0, "print-a4", "test"), ("Data/train/1/live/000001", 1, "", "train"),
        ("Data/train/2/spoof/000002", 0, "print-a4", "dev")]  # the last tenth of train subjects is dev
    write("intra_test", "train", {"Data/train/1/live/000001.jpg": live, "Data/train/3/live/000004.jpg": live})
    assert len(celeba_spoof.discover(tmp_path)) == 4  # both train files are read; the shared entry once
    write("intra_test", "train", {"Data/train/1/live/000001.jpg": spoof})
    with pytest.raises(DatasetLayoutError, match=r"intra_train/train_label.json: Data/train/1/live/000001.jpg has other values than in .*intra_test/train_label.json"):
        celeba_spoof.discover(tmp_path)
    (tmp_path / "metas" / "intra_test" / "train_label.json").unlink()
    (tmp_path / "metas" / "intra_test" / "test_label.json").unlink()
    with pytest.raises(DatasetLayoutError, match=r"intra_test/test_label.json: CelebA-Spoof test label file not found \(nor .*intra_train/test_label.json\)"):
        celeba_spoof.discover(tmp_path)


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
    assert asks_past_end(parse_frame_convention("6+mid"), 12) and not asks_past_end(parse_frame_convention("6+mid"), 13)
    assert not asks_past_end(parse_frame_convention("every:5"), 3) and not asks_past_end(parse_frame_convention("uniform:8"), 3)
    assert sampled_frame_indices(parse_frame_convention("every:5:20"), 100) == [0, 5, 10, 15]
    assert sampled_frame_indices(parse_frame_convention("uniform:3"), 11) == [0, 5, 10]
    assert parse_frame_convention("every:5").text == "every:5"
    with pytest.raises(ValueError, match="frame convention"):
        parse_frame_convention("random")


def test_dataset_names():
    assert canonical_name("OULU_NPU") == canonical_name("O") == "oulu-npu"
    assert canonical_name("Replay-Attack") == "replay-attack" and canonical_name("my-lab") == "my-lab"
