"""Vault settings (app.json, types.json, templates, .vaultlab/config.yaml) and which files are notes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vaultlab.vault.config import ConfigError, VaultConfig
from vaultlab.vault.scan import scan_vault


def make_vault(root: Path, config_dir: str = ".obsidian", app: dict | None = None) -> Path:
    (root / config_dir / "plugins/templater-obsidian").mkdir(parents=True)
    (root / config_dir / "app.json").write_text(json.dumps(app or {}))
    (root / config_dir / "templates.json").write_text(json.dumps({"folder": "Meta/Templates"}))
    (root / config_dir / "plugins/templater-obsidian/data.json").write_text(json.dumps({"templates_folder": "Tpl"}))
    (root / config_dir / "types.json").write_text(json.dumps({"types": {"progress": "number"}}))
    for rel in ["a.md", "Folder/b.md", "Meta/Templates/t.md", "Tpl/t2.md", ".trash/x.md", ".vaultlab/y.md",
                "Archive/old.md", "drafts/skip-me.md", "img.png", "Folder/.hidden.md"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x")
    return root


def test_renamed_config_folder_and_app_settings(tmp_path: Path) -> None:
    root = make_vault(tmp_path, ".myconfig", {"attachmentFolderPath": "./assets", "useMarkdownLinks": True,
                                              "newLinkFormat": "relative", "userIgnoreFilters": ["Archive/", "/skip-/"]})
    config = VaultConfig.load(root)
    assert config.config_dir == ".myconfig" and config.types == {"progress": "number"}
    assert config.template_folders == ["Meta/Templates", "Tpl"]
    assert config.attachment_folder("Folder/b.md") == "Folder/assets"
    assert config.link("vaultlab/results/My Run.md", "Folder/b.md") == "[My Run](../vaultlab/results/My%20Run.md)"
    paths, diagnostics = scan_vault(root, config)
    assert [p.relative_to(root).as_posix() for p in paths] == ["Folder/b.md", "a.md"]
    assert diagnostics == []


@pytest.mark.parametrize(("setting", "note", "expected"), [
    ("", "F/n.md", ""), ("/", "F/n.md", ""), ("./", "F/n.md", "F"), ("./img", "F/n.md", "F/img"),
    ("Attachments", "F/n.md", "Attachments"), ("00 Meta/attachments/", "n.md", "00 Meta/attachments"),
])
def test_attachment_folder_conventions(tmp_path: Path, setting: str, note: str, expected: str) -> None:
    config = VaultConfig(root=tmp_path, attachment_folder_path=setting)
    assert config.attachment_folder(note) == expected


def test_wikilinks_follow_new_link_format(tmp_path: Path) -> None:
    for rel in ["x/Same.md", "y/Same.md", "z/Unique.md"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    config = VaultConfig(root=tmp_path)
    assert config.link("z/Unique.md", "a.md") == "[[Unique]]"
    assert config.link("x/Same.md", "a.md", alias="A|B") == "[[x/Same|AB]]"
    assert config.link("plots/p.png", "a.md", embed=True) == "![[p.png]]"
    config.new_link_format = "absolute"
    assert config.link("z/Unique.md", "a.md") == "[[z/Unique]]"


def test_own_config_yaml(tmp_path: Path) -> None:
    (tmp_path / ".vaultlab").mkdir()
    (tmp_path / ".vaultlab/config.yaml").write_text(
        "output_folder: Lab/\nstatus_values: {read: Gelesen}\ndatasets:\n  oulu: /data/oulu\nextra: yes\n")
    config = VaultConfig.load(tmp_path)
    assert config.output_folder == "Lab" and config.status_values["read"] == "Gelesen"
    assert config.status_values["reading"] == "Reading" and config.datasets == {"oulu": "/data/oulu"}
    assert config.raw["extra"] == "yes" and config.config_dir is None
    (tmp_path / ".vaultlab/config.yaml").write_text("a: [\n")
    with pytest.raises(ConfigError, match=r"config.yaml:\d"):
        VaultConfig.load(tmp_path)


def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    vault, outside = tmp_path / "vault", tmp_path / "outside"
    vault.mkdir()
    outside.mkdir()
    (outside / "secret.md").write_text("x")
    (vault / "n.md").write_text("x")
    (vault / "out").symlink_to(outside)
    (vault / "in.md").symlink_to(vault / "n.md")
    config = VaultConfig.load(vault)
    paths, diagnostics = scan_vault(vault, config)
    assert paths == [vault / "n.md"]
    assert [(d.path, d.severity) for d in diagnostics] == [("out", "warning")]


def test_broken_app_json_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / ".obsidian").mkdir()
    (tmp_path / ".obsidian/app.json").write_text("{nope")
    config = VaultConfig.load(tmp_path)
    assert config.new_link_format == "shortest" and config.diagnostics[0].severity == "warning"
