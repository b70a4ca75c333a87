"""`vaultlab data prepare / list` as a new user types them."""

from __future__ import annotations

from typer.testing import CliRunner

from vaultlab.cli_data import data_app

runner = CliRunner()


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
                                      "--size", "32", "--frames", "uniform:1", "-q", "--vault", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "10 videos → 10 crops" in result.output
