"""Safe writes into the vault: atomic, skipped when unchanged, refused on conflicts or outside the vault.

Compare-and-swap on the sha256 taken when the note was read: if the user (or Obsidian Sync, or git)
changed the file since, we report a conflict instead of clobbering their edit.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import stat
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ABSENT = ""  # the expected digest of a file that must not exist yet
_UNSAFE_NAME_CHARS = re.compile(r"%%|\[\[|\]\]|[#|^:\[\]/\\\x00-\x1f\x7f]")


class WriteConflict(Exception):
    """The file changed on disk since vaultlab read it; it was left untouched."""

    def __init__(self, path: Path | str, message: str = "") -> None:
        self.path = str(path)
        super().__init__(message or f"{path}: changed on disk since vaultlab read it; not written (re-run sync)")


class OutsideVault(ValueError):
    """A path that would land outside the vault (``..``, absolute paths, symlinks out)."""


def digest(data: bytes | None) -> str:
    return ABSENT if data is None else hashlib.sha256(data).hexdigest()


def sanitize_name(name: str) -> str:
    """A file or folder name safe for Obsidian links: no ``# | ^ : %% [[ ]] / \\``, controls, leading dots."""
    cleaned = _UNSAFE_NAME_CHARS.sub("", name)
    cleaned = " ".join(cleaned.split()).lstrip(".").strip()
    if not cleaned or cleaned in (".", ".."):
        raise ValueError(f"name {name!r} has nothing left once unsafe characters are removed")
    return cleaned


def safe_path(root: Path, relpath: str, *, hidden_ok: bool = False) -> Path:
    """``root/relpath`` with each component sanitised; refuses ``..``, absolute paths and escapes.

    ``hidden_ok`` lets the first component be a dot-folder vaultlab owns (``.vaultlab``).
    """
    parts = relpath.replace("\\", "/").split("/")
    if relpath.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", relpath):
        raise OutsideVault(f"{relpath!r} is absolute; vaultlab writes only inside the vault")
    if any(part == ".." for part in parts):
        raise OutsideVault(f"{relpath!r} climbs out of the vault")
    clean = []
    for index, part in enumerate(p for p in parts if p not in ("", ".")):
        if hidden_ok and index == 0 and part.startswith(".") and part.strip(".") and not _UNSAFE_NAME_CHARS.search(part):
            clean.append(part)
        else:
            clean.append(sanitize_name(part))
    if not clean:
        raise ValueError("empty path")
    path = root.joinpath(*clean)
    ensure_inside(root, path)
    return path


def ensure_inside(root: Path, path: Path) -> None:
    real_root = root.resolve()
    real = path.resolve()  # follows symlinks in existing parents
    if real != real_root and real_root not in real.parents:
        raise OutsideVault(f"{path} resolves outside the vault {root}")


def write_atomic(path: Path, data: bytes, expected_digest: str | None, *, root: Path | None = None, sync_folder: bool = True) -> bool:
    """Write ``data`` to ``path`` atomically; False when the file already holds exactly ``data``.

    ``expected_digest``: sha256 hex of the bytes the caller read (``ABSENT`` = the file must not
    exist; None = do not check). Raises ``WriteConflict`` when the file differs from it, and
    ``OutsideVault`` when ``root`` is given and ``path`` is not inside it. ``sync_folder=False``
    leaves the folder's fsync to the caller (``ChangeSet.apply`` syncs each folder once).
    """
    path = Path(path)
    if root is not None:
        ensure_inside(root, path)
    if path.is_symlink():
        raise OutsideVault(f"{path} is a symlink; vaultlab does not write through links")
    try:
        current: bytes | None = path.read_bytes()
    except FileNotFoundError:
        current = None
    if current == data:
        return False
    if expected_digest is not None and digest(current) != expected_digest:
        raise WriteConflict(path)
    mode = stat.S_IMODE(path.stat().st_mode) if current is not None else None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".vaultlab-tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    if sync_folder:
        _fsync_dir(path.parent)
    return True


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # not supported on every platform / file system; the data itself is synced
    finally:
        os.close(fd)


@dataclass
class PlannedWrite:
    relpath: str
    old: bytes | None  # None: a new file
    new: bytes
    expected_digest: str  # of ``old`` (ABSENT for a new file)


@dataclass
class ApplyReport:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[WriteConflict] = field(default_factory=list)
    errors: list[tuple[str, Exception]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.conflicts and not self.errors


class ChangeSet:
    """Planned writes into one vault: review them (``diff``), then ``apply`` them."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.planned: dict[str, PlannedWrite] = {}

    def add(self, relpath: str, new: bytes, old: bytes | None, expected_digest: str | None = None) -> None:
        """Plan ``relpath`` ← ``new``; ``old`` is what was read (None for a new file)."""
        self.planned[relpath] = PlannedWrite(relpath, old, new, expected_digest if expected_digest is not None else digest(old))

    @property
    def changed(self) -> list[str]:
        return sorted(r for r, w in self.planned.items() if w.old != w.new)

    def __bool__(self) -> bool:
        return bool(self.changed)

    def diff(self) -> str:
        """Unified diffs of every planned change (for ``--dry-run``)."""
        chunks = []
        for relpath in self.changed:
            write = self.planned[relpath]
            old = (write.old or b"").decode("utf-8", "replace").splitlines(keepends=True)
            new = write.new.decode("utf-8", "replace").splitlines(keepends=True)
            before = "/dev/null" if write.old is None else f"a/{relpath}"
            for line in difflib.unified_diff(old, new, before, f"b/{relpath}"):
                chunks.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
        return "".join(chunks)

    def _path(self, relpath: str, is_new: bool) -> Path:
        if is_new:
            return safe_path(self.root, relpath, hidden_ok=True)  # a name vaultlab generated
        # An existing note keeps the name the user gave it; only check that it stays inside.
        if relpath.startswith("/") or ".." in relpath.split("/"):
            raise OutsideVault(f"{relpath!r} is outside the vault")
        path = self.root / relpath
        ensure_inside(self.root, path)
        return path

    def apply(self, workers: int = 8) -> ApplyReport:
        """Write every change; a conflict or error on one file is reported and the others go on.

        Each file is written atomically on its own; several at a time, because each waits on its
        fsync (a cold sync of a 10,000-note vault writes every note), and each folder is synced
        once at the end instead of once per file."""
        report = ApplyReport()
        folders: set[Path] = set()

        def write(relpath: str) -> tuple[str, bool | Exception]:
            planned = self.planned[relpath]
            try:
                path = self._path(relpath, is_new=planned.old is None)
                written = write_atomic(path, planned.new, planned.expected_digest, root=self.root, sync_folder=False)
            except (WriteConflict, OSError, ValueError) as error:
                return relpath, error
            if written:
                folders.add(path.parent)
            return relpath, written

        changed = self.changed
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(changed)))) as pool:
            for relpath, outcome in pool.map(write, changed):
                if isinstance(outcome, WriteConflict):
                    outcome.path = relpath
                    report.conflicts.append(outcome)
                elif isinstance(outcome, Exception):
                    report.errors.append((relpath, outcome))
                else:
                    (report.written if outcome else report.unchanged).append(relpath)
        for folder in sorted(folders):
            _fsync_dir(folder)
        return report
