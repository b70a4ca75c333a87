"""The dataset adapters by canonical name, and the names users type for them.

An adapter module has ``NAME``, ``discover(root) -> list[VideoRecord]`` and, when the dataset ships
official protocol lists, ``protocol_lists(root, records, warnings) -> {protocol: {split: [video_id]}}``
(problems that do not stop the prepare are appended to ``warnings`` as ``file:line: …``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from vaultlab.data.real import casia, celeba_spoof, generic, msu, oulu, replay
from vaultlab.data.real.records import VideoRecord

ADAPTERS: dict[str, ModuleType] = {m.NAME: m for m in (oulu, casia, replay, msu, celeba_spoof, generic)}
ALIASES = {
    "oulu": "oulu-npu", "oulunpu": "oulu-npu", "o": "oulu-npu",
    "casia": "casia-fasd", "casiafasd": "casia-fasd", "casiamfsd": "casia-fasd", "c": "casia-fasd",
    "replay": "replay-attack", "replayattack": "replay-attack", "idiap": "replay-attack", "i": "replay-attack",
    "msu": "msu-mfsd", "msumfsd": "msu-mfsd", "m": "msu-mfsd",
    "celebaspoof": "celeba-spoof", "celeba": "celeba-spoof",
}


def canonical_name(name: str) -> str:
    """'OULU_NPU', 'oulu', 'O' → 'oulu-npu'; an unknown name is returned lower-cased (a generic dataset)."""
    lowered = name.strip().lower()
    if lowered in ADAPTERS:
        return lowered
    return ALIASES.get(re.sub(r"[^a-z0-9]", "", lowered), lowered)


def adapter_for(layout: str) -> ModuleType:
    name = canonical_name(layout)
    if name not in ADAPTERS:
        raise ValueError(f"unknown dataset layout {layout!r}; known: {', '.join(ADAPTERS)}")
    return ADAPTERS[name]


@dataclass
class Discovery:
    layout: str
    records: list[VideoRecord]
    protocol_lists: dict[str, dict[str, list[str]]]
    warnings: list[str] = field(default_factory=list)


def discover_dataset(layout: str, root: Path, options: dict | None = None) -> Discovery:
    """All records of the tree at ``root`` (sorted by video id) and its official protocol lists."""
    adapter = adapter_for(layout)
    options = dict(options or {})
    root = Path(root).expanduser()
    records = adapter.discover(root, **({"lists": options["lists"]} if adapter is generic and options.get("lists") else {}))
    records = sorted(records, key=lambda r: r.video_id)
    seen: dict[str, Path] = {}
    for record in records:
        if record.video_id in seen:
            raise ValueError(f"{record.path}: video id {record.video_id!r} is also used by {seen[record.video_id]}")
        seen[record.video_id] = record.path
    warnings: list[str] = []
    lists = adapter.protocol_lists(root, records, warnings) if hasattr(adapter, "protocol_lists") else {}
    return Discovery(layout=adapter.NAME, records=records, protocol_lists=lists, warnings=warnings)
