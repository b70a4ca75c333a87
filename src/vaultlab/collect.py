"""The one writer of a vault: ``vaultlab collect`` (and ``sync``, which runs it).

Workers — ``vaultlab run`` in a cluster job, ``--no-write`` or ``VAULTLAB_NO_WRITE=1`` — only write
run directories. The collector reads the notes and every finished run directory and writes, under
the vault lock, what ``writeback.plan_vault`` plans: properties, Results rows, result notes,
dashboard. Two collectors started at once never both write: the second waits for the lock (up to
``lock_timeout`` seconds, ``VAULTLAB_LOCK_TIMEOUT``), then says who holds it and exits 1.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from vaultlab.vault import cache as note_cache, memo as sync_memo
from vaultlab.vault.config import ConfigError, VaultConfig
from vaultlab.vault.model import Diagnostic
from vaultlab.vault.sync import paused_gc, remember_written

LOCK_RELPATH = ".vaultlab/lock"
LOCK_TIMEOUT_ENV = "VAULTLAB_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT_S = 120.0


class LockError(RuntimeError):
    """The vault lock cannot be taken: the lock file cannot be created (a read-only vault)…"""


class VaultBusy(LockError):
    """…or another process holds it and did not release it in time."""


@contextmanager
def vault_lock(root: Path, timeout_s: float, *, on_wait=None) -> Iterator[None]:  # noqa: ANN001 - callback
    """Hold ``<vault>/.vaultlab/lock`` (``flock``; the OS releases it if the holder dies).

    The file names its holder (pid, host, since) so a waiting collector can say who it waits for."""
    path = Path(root) / LOCK_RELPATH
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise LockError(f"cannot create the lock file {path}: {exc.strerror or exc}") from None
    try:
        deadline = time.monotonic() + timeout_s
        told = False
        while not _try_lock(fd):
            holder = _holder(fd)
            if time.monotonic() >= deadline:
                raise VaultBusy(f"another vaultlab process ({holder or 'unknown'}) is writing this vault; "
                                f"gave up after {timeout_s:g} s — try again when it is done")
            if not told and on_wait is not None:
                on_wait(holder)
                told = True
            time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%H:%M:%S')}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            _unlock(fd)
    finally:
        os.close(fd)


def _try_lock(fd: int) -> bool:
    import fcntl  # POSIX; the lock also works on the NFS/Lustre mounts clusters share (Linux emulates flock there)

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _unlock(fd: int) -> None:
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)


def _holder(fd: int) -> str:
    try:
        return os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""


def lock_timeout() -> float:
    try:
        return float(os.environ.get(LOCK_TIMEOUT_ENV, DEFAULT_LOCK_TIMEOUT_S))
    except ValueError:
        return DEFAULT_LOCK_TIMEOUT_S


def collect(vault_root: Path, *, dry_run: bool = False, console: Console | None = None, check: bool = False,
            fix_text: bool = False, verbose: bool = False, timeout_s: float | None = None) -> int:
    """Write every finished run and vaultlab's properties into the vault; return the exit code.

    ``dry_run`` prints unified diffs, ``check`` only says whether anything would change (exit 1 if
    so); neither writes nor takes the lock. 0: ok; 1: conflicts, errors, a busy vault, or ``check``
    found changes; 2: a broken ``.vaultlab/config.yaml``.

    The cyclic garbage collector is off throughout: the whole vault stays in memory until the
    summary is printed and none of it is cyclic garbage, while a collector switched back on midway
    rescans every object the sync made (a visible share of a cold sync).
    """
    with paused_gc():
        return _collect(Path(vault_root), dry_run=dry_run, console=console or Console(stderr=True, emoji=False), check=check,
                        fix_text=fix_text, verbose=verbose, timeout_s=timeout_s)


def _collect(root: Path, *, dry_run: bool, console: Console, check: bool, fix_text: bool, verbose: bool,
             timeout_s: float | None) -> int:
    from vaultlab.cli_report import print_sync_summary

    try:
        config = VaultConfig.load(root)  # a broken .vaultlab/config.yaml stops here, before any lock or write
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return 2
    if dry_run or check:
        from vaultlab.workspace import open_workspace
        from vaultlab.writeback import plan_vault

        ws = open_workspace(root)
        plan = plan_vault(ws, fix_text=fix_text)
        if dry_run and not check:
            diff = plan.changes.diff()
            if diff:
                console.print(diff, highlight=False, markup=False, soft_wrap=True, end="")
        print_sync_summary(ws, plan, written=[], conflicts=[], dry_run=True, console=console, verbose=verbose)
        if check and plan.changes.changed:
            return 1
        return 1 if _has_errors(ws, plan) else 0

    def waiting(holder: str) -> None:
        console.print(f"[yellow]waiting for the vault lock: {escape(holder or 'another vaultlab process')} is writing…[/yellow]",
                      highlight=False)

    try:
        with vault_lock(root, lock_timeout() if timeout_s is None else timeout_s, on_wait=waiting), note_cache.batched(root):
            # nothing changed since a sync that left nothing to change: its summary, not a re-run (vault.memo)
            before = None if fix_text else sync_memo.take(root, config)
            outcome = sync_memo.load(root, before) if before is not None else None
            if outcome is not None:
                ws, plan = outcome.workspace(root)
                print_sync_summary(ws, plan, written=[], conflicts=[], dry_run=False, console=console, verbose=verbose)
                return 1 if outcome.errors else 0
            from vaultlab.workspace import open_workspace
            from vaultlab.writeback import draw_missing_plots, plan_vault, remember_outcome, written_notes

            ws = open_workspace(root)  # read inside the lock: what is written is planned on what is there now
            plan = plan_vault(ws, fix_text=fix_text)
            draw_missing_plots(ws, plan)
            ahead = _Ahead(ws, plan, memo=before is not None)
            result = plan.changes.apply(while_committing=ahead)
            remember_written(root, written_notes(ws, plan, result.written, ahead.next), result.stats)
            if before is not None:
                remember_outcome(ws, plan, result, before, ahead=ahead.next)
    except LockError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return 1
    conflicts = [c.path for c in result.conflicts]
    _point_at_written_lines(ws, plan, result.written)
    plan.diagnostics += [Diagnostic(path, 0, "error", f"not written: {error}") for path, error in result.errors]
    print_sync_summary(ws, plan, written=result.written, conflicts=conflicts, dry_run=False, console=console, verbose=verbose)
    return 1 if conflicts or _has_errors(ws, plan) else 0


class _Ahead:
    """What ``_collect`` does after the writes, done while the renames wait on the disk (a rename
    over a note waits for the old version's blocks to be freed), assuming every planned change
    gets written; used only if it does. Best effort: a failure here only means no head start."""

    def __init__(self, ws, plan, *, memo: bool) -> None:  # noqa: ANN001 - Workspace, VaultPlan
        self.ws, self.plan, self.memo = ws, plan, memo
        self.next = None  # writeback.NextSync

    def __call__(self) -> None:
        from vaultlab.writeback import next_sync

        changed = self.plan.changes.changed
        try:
            if self.memo and not (self.plan.plots or self.plan.diagnostics):
                self.next = next_sync(self.ws, self.plan, changed)
            written = set(changed)
            for d in [*self.ws.diagnostics, *self.plan.diagnostics]:  # the line maps _point_at_written_lines reads
                if d.path in written and d.line:
                    self.plan.changes.line_after(d.path, d.line)
        except Exception:  # noqa: BLE001 - the work is done again after the writes
            self.next = None


def _point_at_written_lines(ws, plan, written: list[str]) -> None:
    """Warnings were found in the notes as read; in a note this sync rewrote (a property added above
    them) they must name the line as it is now."""
    written = set(written)

    def moved(d: Diagnostic) -> Diagnostic:
        line = plan.changes.line_after(d.path, d.line) if d.path in written and d.line else d.line
        return d if line == d.line else dataclasses.replace(d, line=line)

    if written:
        ws.diagnostics[:] = [moved(d) for d in ws.diagnostics]
        plan.diagnostics[:] = [moved(d) for d in plan.diagnostics]


def _has_errors(ws, plan) -> bool:
    return any(d.severity == "error" for d in [*ws.diagnostics, *plan.diagnostics])
