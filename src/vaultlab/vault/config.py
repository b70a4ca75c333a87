"""The vault's settings: Obsidian's (config folder, app.json, types.json, templates) and vaultlab's own.

Obsidian's files are read leniently (a broken app.json gives a warning and defaults: it is not
ours to fix); ``.vaultlab/config.yaml`` is vaultlab's, so a broken one is an error.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .model import Diagnostic
from .scan import iter_vault_files
from .yaml12 import YamlError, load_mapping

DEFAULT_STATUS_VALUES = {"to_read": "To Read", "reading": "Reading", "read": "Read"}
DEFAULT_RUNS_DIR = ".vaultlab/runs"
OWN_CONFIG = ".vaultlab/config.yaml"
_LINK_UNSAFE = re.compile(r"\[\[|\]\]|[|#^]")


class ConfigError(ValueError):
    """``.vaultlab/config.yaml`` cannot be used; the message says ``path:line``."""


@dataclass
class VaultConfig:
    root: Path
    config_dir: str | None = None  # ".obsidian" or the renamed dot-folder; None without one
    attachment_folder_path: str = ""  # app.json, as written
    use_markdown_links: bool = False
    new_link_format: str = "shortest"  # "shortest" | "relative" | "absolute"
    user_ignore_filters: list[str] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)  # types.json: property → type
    template_folders: list[str] = field(default_factory=list)  # vault-relative
    output_folder: str = "vaultlab"
    runs_dir: Path | None = None  # absolute; set by load (default <vault>/.vaultlab/runs)
    status_values: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_STATUS_VALUES))
    datasets: dict[str, str] = field(default_factory=dict)
    pretrained: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)  # the whole of .vaultlab/config.yaml
    diagnostics: list[Diagnostic] = field(default_factory=list)
    _note_names: dict[str, int] | None = field(default=None, repr=False, compare=False)

    # --- loading ------------------------------------------------------------------------------
    @classmethod
    def load(cls, root: Path) -> VaultConfig:
        root = Path(root)
        config = cls(root=root)
        config.config_dir = find_config_dir(root)
        if config.config_dir:
            folder = root / config.config_dir
            app = config._json(folder / "app.json")
            config.attachment_folder_path = str(app.get("attachmentFolderPath") or "")
            config.use_markdown_links = bool(app.get("useMarkdownLinks", False))
            if app.get("newLinkFormat") in ("shortest", "relative", "absolute"):
                config.new_link_format = app["newLinkFormat"]
            config.user_ignore_filters = [f for f in app.get("userIgnoreFilters") or [] if isinstance(f, str) and f]
            types = config._json(folder / "types.json").get("types", {})
            config.types = {str(k): str(v) for k, v in types.items()} if isinstance(types, dict) else {}
            config.template_folders = config._template_folders(folder)
        config._load_own(root / OWN_CONFIG)
        if config.runs_dir is None:
            config.runs_dir = root / DEFAULT_RUNS_DIR
        return config

    def _json(self, path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            self.diagnostics.append(Diagnostic(self._rel(path), getattr(exc, "lineno", 0), "warning",
                                               f"cannot read Obsidian setting file: {exc}", "using Obsidian's defaults"))
            return {}
        return data if isinstance(data, dict) else {}

    def _template_folders(self, folder: Path) -> list[str]:
        found = []
        core = self._json(folder / "templates.json").get("folder")
        templater = self._json(folder / "plugins" / "templater-obsidian" / "data.json").get("templates_folder")
        for value in (core, templater):
            if isinstance(value, str) and value.strip("/ "):
                cleaned = posixpath.normpath(value.strip().strip("/"))
                if cleaned not in found and not cleaned.startswith(".."):
                    found.append(cleaned)
        return found

    def _load_own(self, path: Path) -> None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{self._rel(path)}: cannot read: {exc}") from None
        try:
            data, _ = load_mapping(text)
        except YamlError as exc:
            raise ConfigError(f"{self._rel(path)}:{exc.line + 1}: {exc.message} — {exc.hint}") from None
        self.raw = data
        if "output_folder" in data:
            self.output_folder = str(data["output_folder"]).strip("/") or "vaultlab"
        self.runs_dir = _runs_dir(self.root, data.get("runs_dir"), self._rel(path))
        for name in ("status_values", "datasets", "pretrained"):
            value = data.get(name)
            if value is None:
                continue
            if not isinstance(value, dict):
                raise ConfigError(f"{self._rel(path)}: `{name}` must be a mapping of name: value")
            merged = getattr(self, name)
            merged.update({str(k): str(v) for k, v in value.items()})

    def _rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    # --- questions -----------------------------------------------------------------------------
    def ignored(self, relpath: str) -> bool:
        """Excluded by app.json ``userIgnoreFilters`` (path prefixes, or ``/regex/``) or a template folder."""
        for folder in self.template_folders:
            if relpath == folder or relpath.startswith(folder + "/"):
                return True
        for pattern in self.user_ignore_filters:
            if len(pattern) > 2 and pattern.startswith("/") and pattern.endswith("/"):
                try:
                    if re.search(pattern[1:-1], relpath):
                        return True
                except re.error:
                    continue
            elif relpath.startswith(pattern.lstrip("/")):
                return True
        return False

    def attachment_folder(self, note_relpath: str) -> str:
        """Vault-relative folder for a note's new attachments ('' = vault root).

        Obsidian's conventions: '' or '/' the root; './' beside the note; './x' a subfolder of the
        note's folder; anything else a fixed folder.
        """
        value = self.attachment_folder_path.strip()
        note_folder = posixpath.dirname(note_relpath)
        if value in ("", "/"):
            return ""
        if value in (".", "./"):
            return note_folder
        if value.startswith("./"):
            folder = posixpath.join(note_folder, value[2:])
        else:
            folder = value.strip("/")
        folder = posixpath.normpath(folder).strip("/")
        if folder == "." or not folder:
            return ""
        if folder == ".." or folder.startswith("../"):
            raise ValueError(f"attachment folder {value!r} points outside the vault")
        return folder

    def link(self, target_relpath: str, from_relpath: str, alias: str | None = None, *, embed: bool = False) -> str:
        """A link from one note to a vault file, as Obsidian would write it (app.json honoured)."""
        target = target_relpath.strip("/")
        is_note = target.endswith(".md")
        path = self._link_path(target, from_relpath)
        alias = _LINK_UNSAFE.sub("", alias).strip() if alias else None
        bang = "!" if embed else ""
        if self.use_markdown_links:
            text = alias if alias is not None else posixpath.splitext(posixpath.basename(target))[0]
            return f"{bang}[{text}]({quote(path, safe='/')})"
        if is_note:
            path = path[:-3]
        return f"{bang}[[{path}|{alias}]]" if alias else f"{bang}[[{path}]]"

    def _link_path(self, target: str, from_relpath: str) -> str:
        if self.new_link_format == "absolute":
            return target
        if self.new_link_format == "relative":
            return posixpath.relpath(target, posixpath.dirname(from_relpath) or ".")
        name = posixpath.basename(target)
        key = name[:-3] if name.endswith(".md") else name
        return target if self.note_names().get(key.casefold(), 0) > 1 else name

    def note_names(self) -> dict[str, int]:
        """How many vault files share each name (links in "shortest" form need it to be unique)."""
        if self._note_names is None:
            counts: dict[str, int] = {}
            for relpath in iter_vault_files(self.root, self, suffixes=None):
                name = posixpath.basename(relpath)
                key = (name[:-3] if name.endswith(".md") else name).casefold()
                counts[key] = counts.get(key, 0) + 1
            self._note_names = counts
        return self._note_names

    def forget_note_names(self) -> None:
        """Call after creating files so the next shortest link sees them."""
        self._note_names = None


def runs_dir_of(root: Path) -> Path:
    """Where the vault's run directories live: ``runs_dir:`` of ``.vaultlab/config.yaml`` (a path
    relative to the vault, or absolute, e.g. on a filesystem a cluster shares), else
    ``<vault>/.vaultlab/runs``. Reads only vaultlab's own config file."""
    root = Path(root)
    try:
        text = (root / OWN_CONFIG).read_text(encoding="utf-8")
        data = load_mapping(text)[0]
    except (OSError, UnicodeDecodeError, YamlError):
        data = {}  # VaultConfig.load reports a broken file; the default folder is the safe answer here
    return _runs_dir(root, data.get("runs_dir"), OWN_CONFIG) or root / DEFAULT_RUNS_DIR


def _runs_dir(root: Path, value: Any, where: str) -> Path | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{where}: `runs_dir` must be a folder path")
    folder = Path(value).expanduser()
    return folder if folder.is_absolute() else root / folder


def find_config_dir(root: Path) -> str | None:
    """".obsidian", or the renamed config folder (a dot-folder holding app.json), or None."""
    if (root / ".obsidian").is_dir():
        return ".obsidian"
    try:
        candidates = sorted(p.name for p in root.iterdir() if p.name.startswith(".") and p.is_dir())
    except OSError:
        return None
    for name in candidates:
        if (root / name / "app.json").is_file():
            return name
    return None
