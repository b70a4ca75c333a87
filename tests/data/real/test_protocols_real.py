"""OULU-NPU P1–P4 from the official lists, OCIM (literature and honest), MCIO export."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import oulu_protocol_members
from vaultlab.data.protocols import ProtocolError, make_splits
from vaultlab.data.real import load_prepared, protocol_folds
from vaultlab.data.real.mcio import export_mcio_lists


@pytest.fixture(scope="module")
def oulu(prepared):
    return load_prepared("oulu-npu", prepared[0])


@pytest.fixture(scope="module")
def ocim(prepared):
    return load_prepared("ocim", prepared[0])


def expected_oulu_videos(data, protocol, split):
    folder_split = {v: s for v, s in zip(data.video.tolist(), data.split.tolist())}
    chosen = set()
    for video, facts in data.meta["videos"].items():
        if folder_split[video] == split and oulu_protocol_members(split, protocol, facts["phone"], facts["session"], facts["file"]):
            chosen.add(video)
    return chosen


@pytest.mark.parametrize("protocol", ["P1", "P2", "P3-1", "P3-2", "P4-1", "P4-2"])
def test_oulu_protocols_follow_the_official_lists(oulu, protocol):
    splits = make_splits(oulu, f"oulu:{protocol}")
    for split in ("train", "dev", "test"):
        assert set(getattr(splits, split).video.tolist()) == expected_oulu_videos(oulu, protocol, split)
    if protocol.startswith("P4"):
        assert set(splits.test.pai.tolist()) <= {"", "print-2", "replay-2"} and set(splits.train.pai.tolist()) <= {"", "print-1", "replay-1"}


def test_oulu_folds_and_names(oulu):
    assert protocol_folds("oulu:P3") == [f"oulu:P3-{k}" for k in range(1, 7)]
    assert protocol_folds("oulu:P1") == ["oulu:P1"] and protocol_folds("ocim:M") == ["ocim:M"]
    assert make_splits(oulu, "oulu:p3_2").protocol == "oulu:P3-2"
    with pytest.raises(ProtocolError, match="six folds"):
        make_splits(oulu, "oulu:P4")
    with pytest.raises(ProtocolError, match="empty"):
        make_splits(oulu, "oulu:P3-5")  # the miniature has no phone 5


def test_ocim_literature_convention(ocim):
    splits = make_splits(ocim, "ocim:M")
    assert set(splits.train.domain.tolist()) == {"oulu-npu", "casia-fasd", "replay-attack"}
    assert set(splits.test.domain.tolist()) == {"msu-mfsd"} and len(set(splits.test.video.tolist())) == 10  # all MSU videos
    assert "ORACLE" in splits.description and np.array_equal(splits.dev.video, splits.test.video)
    # official dev sets dropped (OULU Dev_files, Replay devel); CASIA's carved dev client is training data
    train = splits.train
    assert not ((train.domain == "oulu-npu") & (train.split == "dev")).any()
    assert not ((train.domain == "replay-attack") & (train.split == "dev")).any()
    assert ((train.domain == "casia-fasd") & (train.split == "dev")).any()
    assert make_splits(ocim, "ocim:o").test.domain[0] == "oulu-npu"
    assert len(set(make_splits(ocim, "ocim:O").test.video.tolist())) == 40  # 60 OULU videos minus 20 in Dev_files


def test_ocim_honest_holds_out_source_dev(ocim):
    splits = make_splits(ocim, "ocim-honest:M")
    assert set(splits.dev.split.tolist()) == {"dev"} and "msu-mfsd" not in set(splits.dev.domain.tolist())
    assert not set(splits.dev.subject.tolist()) & set(splits.train.subject.tolist())
    assert np.array_equal(splits.test.video, make_splits(ocim, "ocim:M").test.video)
    with pytest.raises(ProtocolError, match="one of O, C, I, M"):
        make_splits(ocim, "ocim:X")


def test_ocim_needs_all_four(oulu):
    with pytest.raises(ProtocolError, match="needs all four OCIM datasets"):
        make_splits(oulu, "ocim:M")


def test_export_mcio_lists(ocim, tmp_path):
    written = export_mcio_lists(ocim, tmp_path, shots=2, write_frames=True)
    names = {p.name for p in written}
    assert {"msu_real_train.txt", "msu_fake_shot.txt", "oulu_fake_test.txt", "casia_real_train.txt", "replay_real_test.txt"} <= names
    replay_real = (tmp_path / "txt" / "replay_real_train.txt").read_text().split()
    assert replay_real == ["replay/test/real/test_real_client007_session01_webcam_authenticate_adverse_1_frame0.png",
                           "replay/train/real/train_real_client001_session01_webcam_authenticate_adverse_1_frame0.png"]
    shot = (tmp_path / "txt" / "msu_real_shot.txt").read_text().split()
    test = (tmp_path / "txt" / "msu_real_test.txt").read_text().split()
    assert len(shot) == 2 and not set(shot) & set(test) and len(shot) + len(test) == 5
    assert (tmp_path / "frame" / replay_real[0]).is_file()
    assert (tmp_path / "frame" / replay_real[0].replace("frame0", "frame1")).is_file()
