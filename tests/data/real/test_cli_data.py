"""`vaultlab data prepare / list` as a new user types them."""

from __future__ import annotations

import shutil

from typer.testing import CliRunner

from conftest import blank_frames, face_frames, write_truncated_avi, write_video
from vaultlab.cli_data import data_app

runner = CliRunner()


def says(output: str, text: str) -> bool:
    """Whether ``output`` holds ``text``, whatever rich's line wrapping did to either (it breaks long paths too)."""
    return "".join(text.split()) in "".join(output.split())


def test_prepare_from_config_then_list(trees, tmp_path):
    vault = tmp_path / "vault"
    (vault / ".vaultlab").mkdir(parents=True)
    (vault / ".vaultlab" / "config.yaml").write_text(f"datasets:\n  replay-attack: {trees['replay-attack']}\n  msu: /nowhere/MSU\n")
    result = runner.invoke(data_app, ["prepare", "replay", "--vault", str(vault), "--size", "32", "-q"])
    assert result.exit_code == 0, result.output
    assert "9 videos → 18 crops" in result.output
    assert (vault / ".vaultlab/cache/datasets/replay-attack/manifest.json").is_file()
    listing = runner.invoke(data_app, ["list", "--vault", str(vault)])
    assert listing.exit_code == 0
    assert "replay-attack" in listing.output and "msu-mfsd" in listing.output and "missing" in listing.output


def test_prepare_errors_are_one_line_with_the_path(trees, tmp_path):
    result = runner.invoke(data_app, ["prepare", "oulu-npu", "--root", str(tmp_path / "nope"), "--vault", str(tmp_path), "-q"])
    assert result.exit_code == 2 and "nope/Train_files: OULU-NPU video folder not found" in result.output
    result = runner.invoke(data_app, ["prepare", "casia-fasd", "--vault", str(tmp_path)])
    assert result.exit_code == 2 and "pass --root PATH" in result.output
    result = runner.invoke(data_app, ["prepare", "casia-fasd", "--root", str(trees["casia-fasd"]), "--frames", "random", "--vault", str(tmp_path)])
    assert result.exit_code == 2 and "frame convention 'random'" in result.output


def test_data_root_finds_the_dataset_folder(trees, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(data_app, ["prepare", "msu-mfsd", "--data-root", str(trees["msu-mfsd"].parent), "--out", str(out),
                                      "--size", "32", "--frames", "uniform:1", "--workers", "1", "-q", "--vault", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "10 videos → 10 crops" in result.output


def test_faceless_video_is_named_in_the_output_and_counted_in_list(trees, tmp_path):
    root = shutil.copytree(trees["replay-attack"], tmp_path / "replay")
    write_video(root / "test" / "real" / "client007_session01_webcam_authenticate_adverse_1.mov", blank_frames())
    vault = tmp_path / "vault"
    vault.mkdir()
    result = runner.invoke(data_app, ["prepare", "replay-attack", "--root", str(root), "--vault", str(vault), "--size", "32",
                                      "--workers", "1", "-q"])
    assert result.exit_code == 0, result.output
    assert says(result.output, "no face at or near a sampled frame: 1 video kept with 2 centre crops (drop them with --require-face): "
                           "test/real/client007_session01_webcam_authenticate_adverse_1 frames [6, 7]")
    listing = runner.invoke(data_app, ["list", "--vault", str(vault)])
    assert "1 (2 crops)" in listing.output
    result = runner.invoke(data_app, ["prepare", "replay-attack", "--root", str(root), "--vault", str(vault), "--size", "32",
                                      "--workers", "1", "--require-face", "--force", "-q"])
    assert result.exit_code == 0, result.output
    assert "8 videos → 16 crops" in result.output
    assert says(result.output, "dropped 1 video with no face near a sampled frame (--require-face): "
                           "test/real/client007_session01_webcam_authenticate_adverse_1")
    listing = runner.invoke(data_app, ["list", "--vault", str(vault)])
    assert "0, 1 dropped" in listing.output


def test_empty_folder_is_a_usage_error_naming_the_folder(tmp_path):
    (tmp_path / "CASIA").mkdir()
    result = runner.invoke(data_app, ["prepare", "casia-fasd", "--root", str(tmp_path / "CASIA"), "--vault", str(tmp_path), "-q"])
    assert result.exit_code == 2 and says(result.output, "CASIA/train_release: CASIA-FASD release folder not found")
    (tmp_path / "CASIA" / "train_release").mkdir()
    (tmp_path / "CASIA" / "test_release").mkdir()
    result = runner.invoke(data_app, ["prepare", "casia-fasd", "--root", str(tmp_path / "CASIA"), "--vault", str(tmp_path), "-q"])
    assert result.exit_code == 2 and says(result.output, "CASIA: no CASIA-FASD videos under train_release/ or test_release/")


def test_truncated_video_is_named_with_what_was_asked_and_kept(trees, tmp_path):
    root = shutil.copytree(trees["casia-fasd"], tmp_path / "CASIA")
    truncated = write_truncated_avi(root / "test_release" / "1" / "HR_4.avi", face_frames(12), keep=5)
    args = ["prepare", "casia-fasd", "--root", str(root), "--vault", str(tmp_path), "--size", "32", "--workers", "1", "-q"]
    result = runner.invoke(data_app, args)
    assert result.exit_code == 0, result.output
    assert says(result.output, "damaged, kept with the frames that decode (1 video): test_release/1/HR_4 "
                           "(container states 12 frames, 5 decode; asked [6, 11], kept [4])")
    result = runner.invoke(data_app, args + ["--skip-bad", "--force"])
    assert result.exit_code == 0, result.output
    assert "23 videos → 46 crops" in result.output and says(result.output, f"skipped 1 unreadable or damaged (--skip-bad): {truncated}")
