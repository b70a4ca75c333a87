"""Where the licence holder keeps each dataset: ``<vault>/.vaultlab/config.yaml``, or the command line.

```yaml
datasets:
  oulu-npu: /data/OULU-NPU                  # an official layout, by its canonical name
  casia-fasd: ~/datasets/CASIA_faceAntisp
  my-lab-set: {root: /data/lab, layout: generic, lists: lists/Protocol_1}
```

``--root`` names one dataset's folder. ``--data-root`` names a folder that holds several datasets,
each in a sub-folder named like the dataset (``OULU-NPU``, ``oulu_npu``, ``CASIA-FASD`` …).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from vaultlab.data.real.layouts import ADAPTERS, ALIASES, canonical_name

CONFIG_FILE = Path(".vaultlab") / "config.yaml"


class DatasetConfigError(ValueError):
    """A config entry or a command-line root that does not lead to a dataset (message names the path)."""


@dataclass(frozen=True)
class DatasetSource:
    name: str
    root: Path
    layout: str
    options: dict = field(default_factory=dict, compare=False)
    origin: str = ""  # "config.yaml", "--root", "--data-root"


def parse_dataset_entries(config: dict, source: str) -> dict[str, DatasetSource]:
    """The ``datasets:`` mapping of a parsed config → sources by canonical name."""
    entries = config.get("datasets") or {}
    if not isinstance(entries, dict):
        raise DatasetConfigError(f"{source}: 'datasets' must map dataset names to folders")
    sources = {}
    for raw_name, value in entries.items():
        name = canonical_name(str(raw_name))
        if isinstance(value, str):
            root, layout, options = value, name, {}
        elif isinstance(value, dict) and "root" in value:
            root = str(value["root"])
            layout = canonical_name(str(value.get("layout", name)))
            options = {k: v for k, v in value.items() if k not in ("root", "layout")}
        else:
            raise DatasetConfigError(f"{source}: datasets.{raw_name} must be a folder path or {{root: PATH, layout: NAME}}")
        if layout not in ADAPTERS:
            raise DatasetConfigError(f"{source}: datasets.{raw_name}: layout {layout!r} is not one of {', '.join(ADAPTERS)}")
        sources[name] = DatasetSource(name, Path(root).expanduser(), layout, options, origin=source)
    return sources


def read_dataset_config(vault_root: Path) -> dict[str, DatasetSource]:
    import yaml

    path = Path(vault_root) / CONFIG_FILE
    if not path.is_file():
        return {}
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise DatasetConfigError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(config, dict):
        raise DatasetConfigError(f"{path}: expected a mapping at the top level")
    return parse_dataset_entries(config, str(path))


def _folder_key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def find_in_data_root(data_root: Path, name: str) -> Path:
    """The sub-folder of ``data_root`` whose name matches dataset ``name`` or one of its aliases."""
    if not data_root.is_dir():
        raise DatasetConfigError(f"{data_root}: --data-root folder not found")
    keys = {_folder_key(name)} | {alias for alias, target in ALIASES.items() if target == name and len(alias) > 1}
    matches = [p for p in sorted(data_root.iterdir()) if p.is_dir() and _folder_key(p.name) in keys]
    if not matches:
        raise DatasetConfigError(f"{data_root}: no sub-folder named like {name} (e.g. {name}/); pass --root to the dataset folder itself")
    return matches[0]


def resolve_dataset_source(name: str, vault_root: Path | None = None, root: Path | None = None,
                           data_root: Path | None = None, layout: str | None = None) -> DatasetSource:
    """Command line first (``--root``, then ``--data-root``), then the vault's config.yaml."""
    canonical = canonical_name(name)
    configured = read_dataset_config(vault_root) if vault_root is not None else {}
    entry = configured.get(canonical)
    chosen_layout = canonical_name(layout) if layout else (entry.layout if entry else canonical)
    if chosen_layout not in ADAPTERS:
        raise DatasetConfigError(f"dataset {name!r} has no built-in layout; pass --layout generic (or one of {', '.join(ADAPTERS)})")
    options = entry.options if entry else {}
    if root is not None:
        return DatasetSource(canonical, Path(root).expanduser(), chosen_layout, options, "--root")
    if data_root is not None:
        return DatasetSource(canonical, find_in_data_root(Path(data_root).expanduser(), canonical), chosen_layout, options, "--data-root")
    if entry is not None:
        return DatasetSource(canonical, entry.root, chosen_layout, options, entry.origin)
    where = Path(vault_root) / CONFIG_FILE if vault_root is not None else CONFIG_FILE
    raise DatasetConfigError(f"no folder known for dataset {canonical!r}: pass --root PATH, or add 'datasets: {{{canonical}: PATH}}' to {where}")
