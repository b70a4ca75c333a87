"""Safe writes into the vault: atomic, skipped when unchanged, refused on conflicts or outside the vault.

Compare-and-swap on the sha256 taken when the note was read: if the user (or Obsidian Sync, or git)
changed the file since, we report a conflict instead of clobbering their edit.

``write_atomic`` writes one file (temp file in the same folder, fsync, ``os.replace``).
``ChangeSet.apply`` writes many in two phases (see its docstring): every new version goes to a
temp file first, one flush makes them all durable, then each is renamed over its original. A cold
``sync`` of a 10,000-note vault writes every note; one fsync per note was most of its time.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import os
import re
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    # relpath → (size, mtime_ns) of each written file as vaultlab left it (for the parse cache)
    stats: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.conflicts and not self.errors


@dataclass
class _Staged:
    """One file of a change set in phase 1: its new bytes are in ``tmp``, the original untouched."""

    relpath: str
    path: Path
    tmp: str
    seen: tuple[int, int, int] | None  # (inode, size, mtime_ns) of the file whose bytes were checked; None: absent
    written: tuple[int, int, int]  # (inode, size, mtime_ns) of the temp file
    committed: bool = False  # renamed over the original


_TMP_NAMES = itertools.count()
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_BINARY = getattr(os, "O_BINARY", 0)


class ChangeSet:
    """Planned writes into one vault: review them (``diff``), then ``apply`` them."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.planned: dict[str, PlannedWrite] = {}
        self._line_maps: dict[str, _LineMap] = {}

    def add(self, relpath: str, new: bytes, old: bytes | None, expected_digest: str | None = None) -> None:
        """Plan ``relpath`` ← ``new``; ``old`` is what was read (None for a new file)."""
        self.planned[relpath] = PlannedWrite(relpath, old, new, expected_digest if expected_digest is not None else digest(old))
        self._line_maps.pop(relpath, None)

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

    def line_after(self, relpath: str, line: int) -> int:
        """Where ``line`` (1-based) of ``relpath`` as it was read is in the file as planned: a warning
        printed after the sync wrote must point at the line the user will open. Lines in an edited
        region map to that region's first line."""
        write = self.planned.get(relpath)
        if write is None or write.old is None or line <= 0:
            return line
        mapping = self._line_maps.get(relpath)
        if mapping is None:  # once per file: a sync prints thousands of warnings on the notes it wrote
            mapping = self._line_maps[relpath] = _LineMap(write.old, write.new)
        return mapping(line)

    def apply(self, *, while_committing: Callable[[], object] | None = None) -> ApplyReport:
        """Write every change; a conflict or error on one file is reported and the others go on.

        A two-phase commit, as crash-safe for the user's notes as one fsync per file:

        1. *stage*: for each file, check it still holds the bytes vaultlab read (sha256, else a
           conflict), then write the new bytes to a temp file beside it (mode kept). No original
           is touched.
        2. *flush*: one ``syncfs`` of the vault's file system (elsewhere: an fsync per temp file)
           makes every temp file durable.
        3. *commit*: for each file, a ``stat`` confirms it is still the very file checked in 1
           (same inode, size, mtime: else a conflict, the temp file is removed and the user's edit
           stays), then ``os.replace`` swaps the new version in; each touched folder is fsynced once.

        A crash or Ctrl-C before 3 leaves every original intact (and at worst stray hidden
        ``.*.vaultlab-tmp`` files); during 3, each note is either its old or its complete new
        version, never half-written, because only durable temp files are ever renamed.

        Phases 1 and 3 run on a few threads (``_WORKERS``): a rename over a note frees the old
        version's blocks, and ext4 makes each caller wait for that (~3 ms here); waits overlap
        across threads (the GIL is released in system calls). Ctrl-C stops the commits that have
        not started and removes their temp files.

        ``while_committing``: work for this thread while the commit threads wait on the disk (the
        caller's next steps that do not need this report, e.g. the next sync's plan); it runs once
        phase 3 has started, and only when something was staged. An exception it raises (Ctrl-C
        aside) does not stop the commits: it is raised once they are done.
        """
        report = ApplyReport()
        real_folders: dict[Path, str] = {}
        todo: list[tuple[str, Path]] = []
        for relpath in self.changed:  # paths checked here, in one thread (real_folders is shared)
            try:
                todo.append((relpath, self._path(relpath, self.planned[relpath].old is None, real_folders)))
            except (OSError, ValueError) as error:
                report.errors.append((relpath, error))
        staged: list[_Staged] = []
        stop = threading.Event()
        results = _Running.done()  # closed in finally: waits for the threads
        try:
            umask, pid = os.umask(0o022), os.getpid()
            os.umask(umask)
            results = _in_threads(lambda item: self._stage(*item, umask, pid), todo, stop)
            for relpath, outcome in results:
                if isinstance(outcome, WriteConflict):
                    outcome.path = relpath
                    report.conflicts.append(outcome)
                elif isinstance(outcome, (OSError, ValueError)):
                    report.errors.append((relpath, outcome))
                elif isinstance(outcome, BaseException):
                    raise outcome
                elif outcome is None:
                    report.unchanged.append(relpath)
                else:
                    staged.append(outcome)
            if not staged:
                return report
            _flush(self.root, [item.tmp for item in staged])
            folders: set[Path] = set()
            results = _in_threads(self._commit, staged, stop, key=lambda item: item)
            failed = None
            if while_committing is not None:
                with _switching_often():  # each commit thread needs the GIL briefly between its system calls
                    try:
                        while_committing()
                    except Exception as exc:  # noqa: BLE001 - raised once the commits are done
                        failed = exc
            for item, outcome in results:
                if isinstance(outcome, WriteConflict):
                    outcome.path = item.relpath
                    report.conflicts.append(outcome)
                elif isinstance(outcome, OSError):
                    report.errors.append((item.relpath, outcome))
                elif isinstance(outcome, BaseException):
                    raise outcome
                else:
                    report.written.append(item.relpath)
                    report.stats[item.relpath] = item.written[1:]
                    folders.add(item.path.parent)
            for folder in sorted(folders):
                _fsync_dir(folder)
            if failed is not None:
                raise failed
        finally:
            stop.set()
            results.close()  # waits for the threads: no commit is under way below
            for item in staged:  # not renamed (a conflict, an error, an exception or Ctrl-C): nothing of it stays
                if not item.committed:
                    _discard(item.tmp)
        report.written.sort()
        report.conflicts.sort(key=lambda c: c.path)
        report.errors.sort(key=lambda e: e[0])
        return report

    def _path(self, relpath: str, is_new: bool, real_folders: dict[Path, str]) -> Path:
        if is_new:
            return safe_path(self.root, relpath, hidden_ok=True)  # a name vaultlab generated
        # An existing note keeps the name the user gave it; only check that it stays inside.
        if relpath.startswith("/") or ".." in relpath.split("/"):
            raise OutsideVault(f"{relpath!r} is outside the vault")
        path = self.root / relpath
        # ensure_inside, with each folder resolved once (a path's resolve() costs a stat per part);
        # the file itself is checked not to be a link before it is read.
        if "" not in real_folders:
            real_folders[""] = os.path.realpath(self.root)
        real_root = real_folders[""]
        real = real_folders.get(path.parent)
        if real is None:
            real = real_folders[path.parent] = os.path.realpath(path.parent)
        if real != real_root and not real.startswith(real_root + os.sep):
            raise OutsideVault(f"{path} resolves outside the vault {self.root}")
        return path

    def _stage(self, relpath: str, path: Path, umask: int, pid: int) -> _Staged | None:
        """Phase 1 for one file: None when it already holds the new bytes. ``umask``, ``pid``: the
        process's, read once (``os.umask`` can only be read by setting it: not from threads)."""
        planned = self.planned[relpath]
        try:
            fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _BINARY)
        except FileNotFoundError:
            current, seen, mode = None, None, None
        except OSError as exc:
            if os.path.islink(path):
                raise OutsideVault(f"{path} is a symlink; vaultlab does not write through links") from None
            raise exc
        else:
            try:
                info = os.fstat(fd)
                current = _read_all(fd, info.st_size)
            finally:
                os.close(fd)
            if not stat.S_ISREG(info.st_mode):
                raise OSError(f"{path} is not a regular file")
            seen, mode = (info.st_ino, info.st_size, info.st_mtime_ns), stat.S_IMODE(info.st_mode)
        if current == planned.new:
            return None
        if digest(current) != planned.expected_digest:
            raise WriteConflict(path)
        if mode is None:
            mode = 0o666 & ~umask
            path.parent.mkdir(parents=True, exist_ok=True)
        tmp = os.path.join(path.parent, f".{path.name}.{pid}-{next(_TMP_NAMES)}.vaultlab-tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY, mode)  # created with the note's mode…
        try:
            view = memoryview(planned.new)
            while view:
                view = view[os.write(fd, view):]
            if mode & umask:  # …unless the umask took bits away
                os.chmod(tmp, mode) if not hasattr(os, "fchmod") else os.fchmod(fd, mode)
            info = os.fstat(fd)
        except BaseException:
            os.close(fd)
            _discard(tmp)
            raise
        os.close(fd)
        return _Staged(relpath, path, tmp, seen, (info.st_ino, info.st_size, info.st_mtime_ns))

    @staticmethod
    def _commit(item: _Staged) -> None:
        """Phase 3 for one file: rename its durable temp file over it, unless it changed meanwhile."""
        try:
            info = os.lstat(item.path)
            now = (info.st_ino, info.st_size, info.st_mtime_ns)
        except FileNotFoundError:
            now = None
        if now != item.seen:
            raise WriteConflict(item.path)
        os.replace(item.tmp, item.path)
        item.committed = True


class _LineMap:
    """Old line → new line of one planned write. Lines above the first changed line stay, lines below
    the last one move by the change in length; only the lines between are matched (difflib), and
    only when one of them is asked for. The unchanged head and tail are found on the bytes (a binary
    search of slice comparisons): a sync maps warnings on 10,000 notes it wrote."""

    def __init__(self, old: bytes, new: bytes) -> None:
        same_head = _common_length(old, new)
        same_tail = _common_length(old[same_head:], new[same_head:], from_end=True)
        lines_old, lines_new = old.count(b"\n") + 1, new.count(b"\n") + 1
        self.head = old.count(b"\n", 0, same_head)  # lines identical in both, from the top…
        tail = old.count(b"\n", len(old) - same_tail)  # …and from the bottom
        self.old_end, self.delta = lines_old - tail, lines_new - lines_old
        self.texts: tuple[bytes, bytes] | None = (old, new)
        self.blocks: list = []

    def __call__(self, line: int) -> int:
        if line <= self.head:
            return line
        if line > self.old_end:
            return line + self.delta
        if self.texts is not None:
            old, new = (text.split(b"\n") for text in self.texts)
            window = old[self.head:self.old_end], new[self.head:self.old_end + self.delta]
            self.blocks = difflib.SequenceMatcher(None, *window, autojunk=False).get_matching_blocks()
            self.texts = None
        index, edit_starts = line - 1 - self.head, 0
        for a, b, size in self.blocks:
            if a <= index < a + size:
                return self.head + b + index - a + 1
            if a > index:
                break
            edit_starts = b + size
        return self.head + edit_starts + 1  # inside an edit: where the edit starts in the new version


def _common_length(a: bytes, b: bytes, *, from_end: bool = False) -> int:
    """The length of the longest common prefix (suffix) of ``a`` and ``b``."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        mid = (low + high + 1) // 2
        if (a[len(a) - mid:] == b[len(b) - mid:]) if from_end else (a[:mid] == b[:mid]):
            low = mid
        else:
            high = mid - 1
    return low


_WORKERS = 8  # threads for staging and renaming (measured: 8 cut the renames of 10,000 notes ~10x)


def _in_threads(work, items: list, stop: threading.Event, *, key=lambda item: item[0]) -> _Running:  # noqa: ANN001
    """(key(item), work(item) or the exception it raised) for every item, the items split into
    contiguous runs (one folder at a time, mostly) over ``_WORKERS`` threads, which start at once
    (a single run starts when iterated, in the caller's thread). Once ``stop`` is set, no further
    item starts; the caller sets it on Ctrl-C, and ``close`` waits for the items under way."""
    if len(items) < 2 * _WORKERS:
        chunks = [items]
    else:
        size = -(-len(items) // _WORKERS)
        chunks = [items[i:i + size] for i in range(0, len(items), size)]

    def run(chunk: list) -> list[tuple[Any, Any]]:
        out = []
        for item in chunk:
            if stop.is_set():
                break
            try:
                out.append((key(item), work(item)))
            except Exception as exc:  # noqa: BLE001 - reported per item by the caller
                out.append((key(item), exc))
        return out

    if len(chunks) == 1:
        return _Running(None, [lambda: run(chunks[0])], stop)
    pool = ThreadPoolExecutor(max_workers=len(chunks))
    return _Running(pool, [pool.submit(run, chunk).result for chunk in chunks], stop)


class _Running:
    """The results of ``_in_threads``: iterate them in order; ``close`` stops what has not started
    and waits for the threads (also when the results were never read)."""

    def __init__(self, pool: ThreadPoolExecutor | None, parts: list[Callable[[], list]], stop: threading.Event) -> None:
        self.pool, self.parts, self.stop = pool, parts, stop

    @classmethod
    def done(cls) -> _Running:
        return cls(None, [], threading.Event())

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        try:
            for part in self.parts:
                yield from part()
        except BaseException:  # Ctrl-C, or the caller stopped (GeneratorExit): start nothing more
            self.stop.set()
            raise
        self.close()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def _switching_often() -> Iterator[None]:
    """A short GIL switch interval (0.5 ms, not 5 ms) while this thread computes beside threads that
    each need the GIL for a moment between system calls: else each waits up to 5 ms per call."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(min(interval, 0.0005))
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def _read_all(fd: int, size: int) -> bytes:
    """The file's bytes by plain ``read`` calls (one, for a file of ``size`` bytes that did not
    grow): a buffered file object adds an fstat, an ioctl and an lseek per note."""
    chunks = [os.read(fd, size + 1)]
    if len(chunks[0]) <= size:
        return chunks[0]
    while chunks[-1]:
        chunks.append(os.read(fd, 1 << 16))
    return b"".join(chunks)


def _discard(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass


def _flush(root: Path, paths: list[str]) -> None:
    """Make the files ``paths`` durable: one ``syncfs`` of the file system holding ``root`` on Linux
    (it flushes every dirty page of that file system, theirs included), else an fsync per file."""
    if _syncfs(root):
        return

    def sync_one(path: str) -> None:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    with ThreadPoolExecutor(max_workers=max(1, min(8, len(paths)))) as pool:
        list(pool.map(sync_one, paths))


def _syncfs(root: Path) -> bool:
    """``syncfs(2)`` on the vault's file system; False where the call is unavailable or fails."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(root, os.O_RDONLY)
    except (OSError, AttributeError):
        return False
    try:
        return getattr(libc, "syncfs", None) is not None and libc.syncfs(fd) == 0
    finally:
        os.close(fd)
