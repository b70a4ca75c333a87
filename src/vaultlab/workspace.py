"""One opened vault: its config, parsed notes, catalog and resolved experiments, and the ``run`` job
that goes through it (execute the plans, then let the collector write the notes).

Planning lives in ``planning``, the run record in ``runrecord``, the write-back in ``writeback``
and ``collect``. Torch is imported only inside the run path.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from vaultlab.catalog import Catalog, Experiment, load_catalog, resolve_vault
from vaultlab.vault.config import VaultConfig
from vaultlab.vault.model import Diagnostic, Note
from vaultlab.vault.sync import load_notes

NO_WRITE_ENV = "VAULTLAB_NO_WRITE"  # set in a worker's environment: run directories only, no notes


@dataclass
class Workspace:
    root: Path
    config: VaultConfig
    notes: list[Note]
    catalog: Catalog
    experiments: list[Experiment]
    diagnostics: list[Diagnostic]

    @property
    def output_folder(self) -> str:
        return self.config.output_folder.strip("/")

    def note(self, relpath: str) -> Note:
        return next(n for n in self.notes if n.relpath == relpath)


def open_workspace(root: Path) -> Workspace:
    config = VaultConfig.load(root)
    notes, diagnostics = load_notes(root, config)
    catalog = load_catalog(root)
    experiments = resolve_vault(notes, catalog, config.raw)
    seen: set[Diagnostic] = set()
    merged = []
    for d in [*diagnostics, *(d for n in notes for d in n.diagnostics), *catalog.diagnostics, *(d for e in experiments for d in e.diagnostics)]:
        if d not in seen:
            seen.add(d)
            merged.append(d)
    return Workspace(root, config, notes, catalog, experiments, merged)


def writes_disabled() -> bool:
    """True in a worker told (``--no-write`` sets it too) to leave the notes to ``vaultlab collect``."""
    return os.environ.get(NO_WRITE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def run_and_collect(ws: Workspace, plans, *, resume: bool, force: bool, console: Console, quiet: bool = False,
                    write: bool = True) -> int:
    """Train/evaluate every plan (run directories only), print the summary, then — unless ``write``
    is off — write the notes through the one collector, with its lock, diff and conflict handling."""
    from vaultlab.cli_report import print_run_summary
    from vaultlab.runner import execute

    t0 = time.perf_counter()
    all_outcomes = []
    for plan in plans:
        all_outcomes.append((plan, execute(plan, ws.root, resume=resume, force=force, console=console, quiet=quiet)))
    print_run_summary(all_outcomes, console)
    if not write:
        console.print(f"notes not written (run directories only; `vaultlab collect` writes them) · {time.perf_counter() - t0:.1f} s")
        return 0
    from vaultlab.collect import collect

    code = collect(ws.root, console=console)
    console.print(f"{time.perf_counter() - t0:.1f} s")
    return code
