"""The outcome of the last sync that left nothing to change: ``<vault>/.vaultlab/cache/sync-v1.pickle``.

A warm ``sync`` (nothing changed since the last one) would re-read the parse cache, load the
catalog and resolve every note only to find nothing to write and print the same summary again. So
a sync whose vault, on the way out, needs no change records what it printed (counts, not-runnable
reasons, duplicate groups, problems — plain data) under a **fingerprint of everything a sync
reads**, and the next sync whose fingerprint is the same prints that and stops.

The fingerprint covers:

- every file of the vault Obsidian shows (notes, attachments, generated notes): path, size, mtime;
- the vault's settings as loaded (``VaultConfig``: Obsidian's app/types/templates settings and
  ``.vaultlab/config.yaml``) and the vault's own cards (``.vaultlab/methods/``);
- every file under the runs folder (finished runs become result notes);
- vaultlab itself: its package files, shipped cards and templates (an upgrade or an edit of the code
  invalidates the memo), and the Python and environment it runs in.

It is recorded only when the state after the sync is known exactly: the fingerprint taken when the
sync began, with the files it wrote replaced by their stats as written, must equal the fingerprint
taken at the end — a note the user saved meanwhile makes the two differ and nothing is recorded. A
memo that does not match, cannot be read or holds anything but plain data is ignored (the vault may
be shared: the unpickler refuses every class).
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import VaultConfig
from .cache import read_plain, write_plain
from .model import Diagnostic, Peers
from .scan import walk_notes

MEMO_RELPATH = ".vaultlab/cache/sync-v1.pickle"
MEMO_VERSION = 1
VAULT_METHODS_DIR = ".vaultlab/methods"


@dataclass
class State:
    """What a sync reads, as stats: ``files`` relpath → (size, mtime_ns) of the vault's visible files;
    ``rest``: a digest of the settings, the vault's cards, the runs folder and vaultlab's own files."""

    files: dict[str, tuple[int, int]]
    rest: str
    problems: bool = False  # the walk met something it could not list or a link: never memoised

    def key(self) -> str:
        h = hashlib.blake2b(self.rest.encode(), digest_size=20)
        for relpath in sorted(self.files):
            size, mtime = self.files[relpath]
            h.update(f"{relpath}\0{size}\0{mtime}\n".encode("utf-8", "surrogateescape"))
        return h.hexdigest()

    def after_writes(self, stats: Mapping[str, tuple[int, int]]) -> State:
        """This state with the files vaultlab wrote (``ApplyReport.stats``) as it left them."""
        return State({**self.files, **stats}, self.rest, self.problems)


def take(root: Path, config: VaultConfig) -> State:
    """The vault's state now (a stat per file; nothing is read but the runs folder's listing)."""
    root = Path(root)
    diagnostics: list[Diagnostic] = []
    found = walk_notes(root, config, diagnostics, suffixes=None)
    files = {relpath: (info.st_size, info.st_mtime_ns) for relpath, info in found}
    h = hashlib.blake2b(digest_size=20)
    h.update(f"{sys.version}\0{sys.prefix}\0".encode("utf-8", "surrogateescape"))  # another Python or environment
    h.update(repr(config).encode("utf-8", "surrogateescape"))
    for label, folder in (("vault-methods", root / VAULT_METHODS_DIR), ("runs", config.runs_dir or root / ".vaultlab/runs"),
                          *_code_folders()):
        h.update(f"[{label}]\n".encode())
        for relpath, size, mtime in _tree(folder):
            h.update(f"{relpath}\0{size}\0{mtime}\n".encode("utf-8", "surrogateescape"))
    return State(files, h.hexdigest(), problems=bool(diagnostics))


def _code_folders() -> list[tuple[str, Path]]:
    from vaultlab.resources import methods_dir, templates_dir

    package = Path(__file__).resolve().parents[1]
    folders = [("vaultlab", package)]
    for name, locate in (("methods", methods_dir), ("templates", templates_dir)):
        try:
            folders.append((name, locate()))
        except FileNotFoundError:
            continue
    return folders


def _tree(folder: Path) -> Iterator[tuple[str, int, int]]:
    """(relpath, size, mtime_ns) of every file below ``folder`` (links not followed), sorted;
    ``__pycache__`` folders are skipped (bytecode follows the sources)."""
    stack = [("", os.fspath(folder))]
    rows = []
    while stack:
        prefix, current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            relpath = prefix + entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        stack.append((relpath + "/", entry.path))
                    continue
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            rows.append((relpath, info.st_size, info.st_mtime_ns))
    rows.sort()
    return iter(rows)


# -- what is remembered: the summary a sync printed, as plain data --------------------------------

@dataclass
class Outcome:
    """What ``print_sync_summary`` reads of a sync that changed nothing."""

    experiments: list[tuple[str, bool, str, int]]  # (id, runnable, not-runnable reason, duplicate group or -1)
    groups: list[list[str]]  # ids of each group of notes on one paper
    runs: int  # finished runs
    diagnostics: list[tuple[str, int, str, str, str]]  # (path, line, severity, message, hint), in print order
    errors: bool = field(default=False)

    @classmethod
    def of(cls, experiments: Iterable[Any], runs: int, diagnostics: Iterable[Diagnostic]) -> Outcome:
        rows, groups, group_of = [], [], {}
        strings: dict[str, str] = {}  # one copy of each repeated text: the pickle stores it once
        for exp in experiments:
            index = -1
            if exp.duplicates:
                index = group_of.get(exp.id, -1)
                if index < 0:
                    index = len(groups)
                    members = [exp.id, *exp.duplicates]
                    groups.append(members)
                    group_of.update(dict.fromkeys(members, index))
            rows.append((exp.id, bool(exp.runnable), strings.setdefault(exp.runnable_reason, exp.runnable_reason), index))
        diags = [(d.path, d.line, d.severity, strings.setdefault(d.message, d.message), strings.setdefault(d.hint, d.hint))
                 for d in diagnostics]
        return cls(rows, groups, runs, diags, any(d[2] == "error" for d in diags))

    def workspace(self, root: Path) -> tuple[Any, Any]:
        """Stand-ins for the ``Workspace`` and ``VaultPlan`` that ``print_sync_summary`` reads."""
        from types import SimpleNamespace

        from .write import ChangeSet

        experiments = [_Experiment(id_, runnable, reason, Peers(self.groups[group], id_) if group >= 0 else ())
                       for id_, runnable, reason, group in self.experiments]
        diagnostics = [Diagnostic(*row) for row in self.diagnostics]
        ws = SimpleNamespace(root=Path(root), experiments=experiments, notes=[], diagnostics=diagnostics)
        plan = SimpleNamespace(runs=range(self.runs), changes=ChangeSet(root), notes_after=[], plots=[], diagnostics=[])
        return ws, plan


@dataclass
class _Experiment:
    id: str
    runnable: bool
    runnable_reason: str
    duplicates: Any


def load(root: Path, state: State) -> Outcome | None:
    """The recorded outcome when ``state`` is the state it was recorded for, else None."""
    if state.problems:
        return None
    payload = read_plain(Path(root) / MEMO_RELPATH)
    if not isinstance(payload, dict) or payload.get("version") != MEMO_VERSION or payload.get("key") != state.key():
        return None
    try:
        return Outcome(**payload["outcome"])
    except Exception:  # noqa: BLE001 - a damaged memo means "no memo", never a failed sync
        return None


def save(root: Path, state: State, outcome: Outcome) -> None:
    """Best effort, like the parse cache: a memo that cannot be written only makes the next sync slower."""
    if state.problems:
        forget(root)
        return
    write_plain(Path(root) / MEMO_RELPATH, {"version": MEMO_VERSION, "key": state.key(), "outcome": dict(outcome.__dict__)})


def forget(root: Path) -> None:
    try:
        os.unlink(Path(root) / MEMO_RELPATH)
    except OSError:
        pass
