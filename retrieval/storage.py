"""The index directory on disk: what is ours, how a save is committed, how a load is verified.

Layout of an index directory::

    QABOT-INDEX      the marker: this directory is a qabot index (written when we create or
                     adopt the directory; we never replace or delete anything without it)
    lock             writers hold an exclusive ``flock`` on it while they save, and write
                     their process id (and its start time) into it; the lock's descriptor
                     is the writer's alone (its worker processes close it), so it ends with
                     the writer; a lock kept by processes whose owner is gone is taken over
    CURRENT          the commit point: {"commit": "gen-000007"}, replaced atomically
    gen-000007/      one generation: the files of the index and ``manifest.json``, which
                     lists every file with its size and CRC-32 (damage, not tampering, is what it
                     detects: 1 ms per MiB to verify, against 3 for blake2b here)

A save writes a new generation into a temporary directory (every file fsynced, the manifest
last), renames it to ``gen-N``, then replaces ``CURRENT`` (write aside, fsync,
``os.replace``). A reader reads ``CURRENT`` and then that generation, so it sees the previous
or the new index, never a mix, whenever a writer is killed. Older generations and temporary
directories of killed saves are removed by the next save, under the lock. Only entries whose
names we give (``gen-*``, ``.tmp-*``, ``CURRENT.tmp-*``) are ever removed, and only inside a
directory holding the marker; a symlinked index directory is followed, never replaced.

The index is made of immutable segments (``retrieval.index``): each ``seg-000003/`` directory
is written aside the same way (``.tmp-*``, then renamed), never changed afterwards, and a
generation's manifest lists the segments it is made of (``"segments": [{"name": ...}]``).
A segment no current generation lists is removed with the old generations; a reader that has
a removed segment's files open (memory-mapped) keeps reading them (POSIX unlink semantics).
Writers (a build, an add, a delete, a merge) hold the lock from their first segment to their
commit (``writing``); readers never take it.
"""
from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import re
import shutil
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import numpy as np

from retrieval.errors import IndexFormatError, IndexLocationError
from retrieval.system import directory_locked, process_running, process_start

MARKER = "QABOT-INDEX"
POINTER = "CURRENT"
LOCK = "lock"
MANIFEST = "manifest.json"
LAYOUT = 1
_MARKER_CONTENT = {"kind": "qabot-index", "layout": LAYOUT}
_GENERATION = re.compile(r"^gen-(\d{6,})$")
_SEGMENT = re.compile(r"^seg-(\d{6,})$")
_TEMPORARY = re.compile(r"^(?:\.tmp-.+|(?:" + POINTER + "|" + LOCK + r")\.tmp-.+)$")
_MARKER_BEING_WRITTEN = re.compile(r"^" + MARKER + r"\.tmp-.+$")
BLOCK_BYTES = 1 << 20      # a file larger than this has a CRC-32 per block in its manifest too
SAMPLED_BLOCKS = 8         # blocks of a large file verified on open (the first, the last and
                           # evenly spaced ones); the others are verified when read

_LOCK_POLL_SECONDS = 0.2   # how often a process waiting for the lock looks whether its
                           # owner is still alive

T = TypeVar("T")
log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- ownership
def is_index_dir(path: Path) -> bool:
    """True when ``path`` is a directory carrying our marker."""
    try:
        marker = json.loads((path / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and marker.get("kind") == _MARKER_CONTENT["kind"]


def check_location(path: Path) -> None:
    """Raise ``IndexLocationError`` unless ``path`` may hold our index: it does not exist yet,
    is an empty directory, or is a directory with our marker (symlinks are followed)."""
    if not os.path.lexists(path):
        return
    if not path.exists():
        raise IndexLocationError(f"index directory {path} is a broken symbolic link")
    if not path.is_dir():
        raise IndexLocationError(f"index directory {path} is not a directory; "
                                 "choose another --index-dir (index.dir)")
    if is_index_dir(path):
        return
    try:  # empty, or holding only the marker that a save starting meanwhile is writing
        with os.scandir(path) as entries:
            empty = all(_MARKER_BEING_WRITTEN.match(entry.name) for entry in entries)
    except OSError as exc:
        raise IndexLocationError(f"cannot read index directory {path}: {exc.strerror}") from None
    if not empty and is_index_dir(path):
        # A save starting meanwhile put its marker in place after our first look: every entry
        # of ours (lock, generations, temporaries) is created only once the marker is there.
        return
    if not empty:
        if (path / MANIFEST).is_file():  # an index of qabot before format 5 had no marker
            raise IndexLocationError(f"{path} holds an index of an older qabot (no {MARKER} "
                                     "marker), so it is left untouched; delete it yourself or "
                                     "choose another --index-dir (index.dir)")
        raise IndexLocationError(f"{path} is not a qabot index (it holds other files and no "
                                 f"{MARKER} marker), so it is left untouched; choose another "
                                 "--index-dir (index.dir)")


# ----------------------------------------------------------------------------------- saving
class Writer:
    """What a writer holding the lock of an index directory may do: write directories aside,
    publish them as segments, and commit a new generation."""

    def __init__(self, root: Path, lock_fd: int | None = None) -> None:
        self.root = root
        self.lock_fd = lock_fd      # the descriptor holding the lock: worker processes this
                                    # writer starts close it (the lock is this process's alone)
        self._made: list[Path] = []

    def new_directory(self) -> Path:
        """A fresh temporary directory under the index directory (removed when the writer
        fails, or by the next writer if this process is killed)."""
        tmp = self.root / f".tmp-{os.getpid()}-{time.monotonic_ns()}"
        tmp.mkdir()
        self._made.append(tmp)
        return tmp

    def publish_segment(self, tmp: Path, manifest: Mapping[str, Any]) -> str:
        """Finish the directory ``tmp`` (its files' sizes and checksums added to
        ``manifest``, everything fsynced) and rename it to a new ``seg-N``; returns the name.
        It is part of the index once a generation lists it."""
        finish_directory(tmp, manifest)
        name = f"seg-{_next_number(self.root, _SEGMENT):06d}"
        os.rename(tmp, self.root / name)
        self._made.remove(tmp)
        return name

    def commit(self, write: Callable[[Path], Mapping[str, Any]]) -> Path:
        """Commit a new generation: ``write(directory)`` writes its files and returns its
        manifest. Returns the generation's directory."""
        tmp = self.new_directory()
        manifest = dict(write(tmp))
        finish_directory(tmp, manifest)
        generation = self.root / f"gen-{_next_number(self.root, _GENERATION):06d}"
        os.rename(tmp, generation)
        self._made.remove(tmp)
        _fsync_dir(self.root)
        _write_atomically(self.root / POINTER, json.dumps({"commit": generation.name}).encode())
        _remove_stale(self.root, keep=generation.name)
        return generation

    def discard(self) -> None:
        for tmp in self._made:
            shutil.rmtree(tmp, ignore_errors=True)
        self._made.clear()


@contextmanager
def writing(root: Path) -> Iterator[Writer]:
    """Hold the writer's lock of index directory ``root`` (created, with its marker, when
    needed). Raises ``IndexLocationError`` when ``root`` is not ours, ``OSError`` when it
    cannot be written; on any failure the current generation stays the current one."""
    check_location(root)
    created = not os.path.lexists(root)
    root.mkdir(parents=True, exist_ok=True)
    if not is_index_dir(root):
        marker = {**_MARKER_CONTENT, "created": created}  # may remove_index remove the directory?
        _write_atomically(root / MARKER, json.dumps(marker).encode())
    try:
        with _locked(root) as lock_fd:
            _remove_stale(root, keep=_current_name(root))
            writer = Writer(root, lock_fd)
            try:
                yield writer
            finally:
                writer.discard()
    except BaseException:
        if created and _current_name(root) is None:
            remove_index(root)   # a first build that failed leaves nothing behind
        raise


def finish_directory(directory: Path, manifest: Mapping[str, Any]) -> None:
    """Write ``manifest`` (with every file's size and CRC-32 added) into ``directory`` and
    fsync it."""
    manifest = dict(manifest)
    manifest["files"] = {p.name: _file_entry(p) for p in sorted(directory.iterdir())}
    _write_file(directory / MANIFEST, json.dumps(manifest, indent=1).encode())
    _fsync_dir(directory)


def save_generation(root: Path, write: Callable[[Path], Mapping[str, Any]]) -> Path:
    """Commit a new generation of the index under ``root``: ``write(directory)`` writes the
    index's files into a fresh directory and returns its manifest; the file sizes and checksums
    are added to it. Returns the generation's directory.

    Raises ``IndexLocationError`` when ``root`` is not ours, ``OSError`` when it cannot be
    written; in both cases the previous generation stays the current one."""
    with writing(root) as writer:
        return writer.commit(write)


def wait_for_writer(root: Path, waiting: Callable[[], None] = lambda: None) -> bool:
    """Wait until no process holds the writer's lock of index directory ``root`` (one that is
    building or saving the index), calling ``waiting()`` first when one does. Returns whether
    there was one to wait for. A lock whose owner is gone is not waited for."""
    if not is_index_dir(root):
        return False
    try:
        handle, waited = _acquire(root, exclusive=False, waiting=waiting)
    except FileNotFoundError:       # no lock file: nobody has written here yet
        return False
    with handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return waited


@contextmanager
def _locked(root: Path) -> Iterator[int]:
    """Hold the exclusive lock of ``root``; yields its descriptor."""
    handle, _ = _acquire(root, exclusive=True)
    with handle:
        try:
            yield handle.fileno()
        finally:
            handle.truncate(0)      # no owner recorded: the lock is free
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _acquire(root: Path, *, exclusive: bool, waiting: Callable[[], None] = lambda: None
             ) -> tuple[BinaryIO, bool]:
    """The lock file of ``root``, opened (not inherited by programs this process runs) and
    locked (``exclusive``: by a writer, which records itself as its owner; else shared, by
    a reader waiting for writers), and whether it had to wait. While another process holds
    the lock, its owner is looked at every ``_LOCK_POLL_SECONDS``: when the owner has ended
    and only processes it left behind keep the lock, a writer takes the lock over (a new
    lock file in its place, with one line saying so); a reader stops waiting (its handle is
    then returned unlocked). ``FileNotFoundError`` when a reader finds
    no lock file."""
    path = root / LOCK
    waited = False
    mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    while True:
        handle: BinaryIO = open(path, "a+b" if exclusive else "rb")
        try:
            while not _try_lock(handle, mode):
                owner = _lock_owner(handle)
                if owner is not None and not process_running(*owner):
                    if not exclusive:     # a reader: no writer is at work to wait for
                        return handle, waited
                    _take_over(root, handle, owner[0])
                    break
                if not waited:
                    waiting()
                    waited = True
                time.sleep(_LOCK_POLL_SECONDS)
            else:
                with directory_locked(root):   # not while a stale lock is being taken over
                    if _same_file(handle, path):
                        if exclusive:
                            _record_owner(handle)
                        return handle, waited
        except BaseException:
            handle.close()
            raise
        handle.close()   # the file was replaced (a stale lock taken over): lock the new one


def _try_lock(handle: BinaryIO, mode: int) -> bool:
    try:
        fcntl.flock(handle.fileno(), mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _same_file(handle: BinaryIO, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(handle.fileno()), os.stat(path))
    except FileNotFoundError:
        return False


def _record_owner(handle: BinaryIO) -> None:
    pid = os.getpid()
    handle.seek(0)
    handle.truncate()
    handle.write(f"{pid} {process_start(pid) or 0}\n".encode())
    handle.flush()


def _lock_owner(handle: BinaryIO) -> tuple[int, int | None] | None:
    """(process id, start) of the writer that took the lock: as it recorded itself, else
    (a lock file of an older qabot) as the kernel's table of locks says (Linux); None when
    unknown."""
    words = os.pread(handle.fileno(), 64, 0).split()
    if len(words) == 2 and all(w.isdigit() for w in words):
        return int(words[0]), int(words[1]) or None
    info = os.fstat(handle.fileno())
    inode = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    try:
        table = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    for line in table:
        fields = line.split()
        if len(fields) > 5 and fields[1] == "FLOCK" and fields[5] == inode and \
                fields[4].isdigit() and int(fields[4]) > 0:
            return int(fields[4]), None
    return None


def _take_over(root: Path, handle: BinaryIO, owner: int) -> None:
    """Replace the lock file that ``handle`` holds open by a new one, unless another process
    did meanwhile or a live writer took the lock meanwhile."""
    with directory_locked(root):
        again = _lock_owner(handle)
        if _same_file(handle, root / LOCK) and again is not None and \
                not process_running(*again) and not _try_lock(handle, fcntl.LOCK_SH):
            log.warning("the index lock at %s is kept by processes that its owner (process "
                        "%d) left behind when it ended; taking it over", root, owner)
            _write_atomically(root / LOCK, b"")


def _write_file(path: Path, data: bytes) -> None:
    write_with(path, lambda handle: handle.write(data))


def write_with(path: Path, writer: Callable[[Any], None]) -> None:
    """Write ``path`` with ``writer(file object)`` and fsync it."""
    with open(path, "wb") as handle:
        writer(handle)
        handle.flush()
        os.fsync(handle.fileno())


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}-{time.monotonic_ns()}")
    try:
        _write_file(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:  # some file systems cannot sync a directory
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def _next_number(root: Path, pattern: re.Pattern[str]) -> int:
    numbers = [int(m.group(1)) for m in (pattern.match(p.name) for p in root.iterdir()) if m]
    return max(numbers, default=0) + 1


def _remove_stale(root: Path, keep: str | None) -> None:
    """Remove the generations other than ``keep``, the segments it does not list and the
    temporaries of killed saves (the caller holds the lock, so no save is under way)."""
    used = segments_of(read_generation_manifest(root, keep)) if keep else set()
    for entry in root.iterdir():
        if entry.name == keep or entry.name in used:
            continue
        if _GENERATION.match(entry.name) or _SEGMENT.match(entry.name) or \
                _TEMPORARY.match(entry.name):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def segments_of(manifest: Mapping[str, Any] | None) -> set[str]:
    """The names of the segments a generation's manifest lists."""
    listed = manifest.get("segments") if isinstance(manifest, Mapping) else None
    if not isinstance(listed, list):
        return set()
    return {s["name"] for s in listed if isinstance(s, dict) and isinstance(s.get("name"), str)
            and _SEGMENT.match(s["name"])}


def read_generation_manifest(root: Path, name: str) -> dict[str, Any] | None:
    try:
        manifest = json.loads((root / name / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def remove_index(root: Path) -> bool:
    """Remove the index saved under ``root``: only the entries a save makes, only when
    ``root`` carries our marker, and ``root`` itself only when a save created it and nothing
    else is left in it. Returns whether there was an index to remove."""
    if not root.is_dir() or not is_index_dir(root):
        return False
    marker = json.loads((root / MARKER).read_text(encoding="utf-8"))
    with _locked(root):
        _remove_stale(root, keep=None)
        (root / POINTER).unlink(missing_ok=True)
        (root / MARKER).unlink()
    (root / LOCK).unlink(missing_ok=True)
    if marker.get("created") is True:
        try:
            root.rmdir()
        except OSError:  # not empty: what is left is not ours
            pass
    return True


# ---------------------------------------------------------------------------------- loading
# A reader whose commit is replaced while it reads reads the newer one; it gives up (says the
# index is damaged) only when a file is missing from the commit that is still current, or
# after this many commits landed while it read (saves without end).
READ_ATTEMPTS = 100


def current_generation(root: Path) -> str | None:
    """The name of the current generation under ``root`` (None: no valid pointer)."""
    return _current_name(root)


def _current_name(root: Path) -> str | None:
    try:
        pointer = json.loads((root / POINTER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = pointer.get("commit") if isinstance(pointer, dict) else None
    return name if isinstance(name, str) and _GENERATION.match(name) else None


def read_manifest(root: Path) -> dict[str, Any] | None:
    """The manifest of the current generation under ``root``, or None when there is none."""
    for _ in range(READ_ATTEMPTS):
        name = _current_name(root)
        if name is None:
            return None
        try:
            manifest = json.loads((root / name / MANIFEST).read_text(encoding="utf-8"))
        except FileNotFoundError:
            if _current_name(root) != name:
                continue    # replaced between the two reads: read the newer one
            return None
        except (OSError, ValueError):
            return None
        return manifest if isinstance(manifest, dict) else None
    return None


class VerifiedFiles:
    """The files of one generation, each read whole and checked against the manifest."""

    def __init__(self, directory: Path, manifest: Mapping[str, Any]) -> None:
        self.directory = directory
        self.manifest = manifest
        files = manifest.get("files")
        if not isinstance(files, dict):
            raise IndexFormatError(f"index at {directory.parent} is damaged (its manifest "
                                   "lists no files)")
        self._files: dict[str, Any] = files

    def read(self, name: str) -> np.ndarray:
        """The bytes of file ``name``, as a writable array of bytes (for arrays to use
        without a copy); ``IndexFormatError`` when its size or checksum differs from the
        manifest's."""
        return CheckedFile(self.directory / name, self._files.get(name),
                           self.directory.parent).read()


def load_generation(root: Path, read: Callable[[VerifiedFiles], T],
                    generation: str | None = None) -> T:
    """``read`` the current generation under ``root`` (or the one named ``generation``).
    Raises ``IndexFormatError`` when there is no index (or no such generation: a newer commit
    replaced it) or it is damaged, ``IndexLocationError`` when ``root`` is not a directory."""
    if os.path.lexists(root) and not root.is_dir():
        raise IndexLocationError(f"index directory {root} is not a directory")
    for attempt in range(READ_ATTEMPTS):
        name = _current_name(root) if generation is None else generation
        if name is None or not is_index_dir(root):
            raise IndexFormatError(f"no index at {root} (run `qabot index` to build it)")
        if generation is not None and not (root / generation / MANIFEST).is_file():
            raise IndexFormatError(f"the index at {root} no longer has commit {generation} "
                                   "(a newer commit replaced it)")
        try:
            manifest = read_directory_manifest(root / name, root)
            return read(VerifiedFiles(root / name, manifest))
        except FileNotFoundError:
            if generation is None and attempt + 1 < READ_ATTEMPTS and \
                    _current_name(root) != name:
                continue  # a save committed a new generation meanwhile: read that one
            raise IndexFormatError(f"index at {root} is damaged (a file of {name} is missing); "
                                   "rebuild it with `qabot index`") from None
    raise AssertionError("unreachable")


def read_directory_manifest(directory: Path, where: Path) -> dict[str, Any]:
    """The manifest of a directory we wrote (a generation or a segment), as an object.
    Raises ``IndexFormatError`` when it is damaged, ``FileNotFoundError`` when missing."""
    try:
        manifest = json.loads((directory / MANIFEST).read_bytes().decode("utf-8"))
    except ValueError:      # not UTF-8, not JSON (a truncated file)
        raise IndexFormatError(f"index at {where} is damaged ({directory.name}/{MANIFEST} is "
                               "not JSON); rebuild it with `qabot index`") from None
    if not isinstance(manifest, dict):
        raise IndexFormatError(f"index at {where} is damaged ({directory.name}/{MANIFEST} is "
                               "not an object); rebuild it with `qabot index`")
    return manifest


class CheckedFile:
    """A file of one of our directories as its manifest entry records it: its size is
    checked at once; its bytes are verified against its CRC-32 whole (``verify``), in a
    sample of its blocks (``verify_sample``), or block by block as they are read
    (``verify_range``: each block once), always before they are decoded. Every failure is an
    ``IndexFormatError`` naming the file."""

    def __init__(self, path: Path, entry: Any, where: Path) -> None:
        self.path = path
        self.where = where
        self.label = f"{path.parent.name}/{path.name}"
        if not isinstance(entry, dict) or not isinstance(entry.get("bytes"), int):
            raise self.damaged("is not in its manifest")
        self._entry: dict[str, Any] = entry
        size = path.stat().st_size
        if size != entry["bytes"]:
            raise self.damaged(f"has {size:,} bytes, the manifest says {entry['bytes']:,}")
        self.size = size
        blocks = entry.get("block_crc32")
        self._blocks: list[Any] | None = blocks if isinstance(blocks, list) else None
        self._verified: set[int] = set()

    def damaged(self, problem: str) -> IndexFormatError:
        return IndexFormatError(f"index at {self.where} is damaged ({self.label} {problem}); "
                                "rebuild it with `qabot index`")

    def read(self) -> np.ndarray:
        """The whole file, verified, as a writable array of bytes."""
        data = np.empty(self.size, dtype=np.uint8)  # not zero-filled, unlike a bytearray
        with open(self.path, "rb") as handle:
            if handle.readinto(memoryview(data)) != self.size:
                raise self.damaged("is shorter than it was a moment ago")
        if zlib.crc32(data) != self._entry.get("crc32"):
            raise self.damaged("does not match its checksum")
        return data

    def verify(self) -> None:
        if _file_crc(self.path) != self._entry.get("crc32"):
            raise self.damaged("does not match its checksum")
        self._verified.update(range(self._block_count()))

    def verify_sample(self) -> None:
        count = self._block_count()
        if self._blocks is None or count <= SAMPLED_BLOCKS:
            self.verify()
            return
        step = (count - 1) / (SAMPLED_BLOCKS - 1)
        for block in sorted({round(i * step) for i in range(SAMPLED_BLOCKS)}):
            self._verify_block(block)

    def verify_range(self, lo: int, hi: int) -> None:
        """The blocks holding bytes ``lo`` to ``hi`` verified (those not verified yet)."""
        if self._blocks is None:
            if not self._verified:
                self.verify()
            return
        for block in range(lo // BLOCK_BYTES, (max(hi, lo + 1) - 1) // BLOCK_BYTES + 1):
            if block not in self._verified:
                self._verify_block(block)

    def _block_count(self) -> int:
        return max(1, -(-self.size // BLOCK_BYTES))

    def _verify_block(self, block: int) -> None:
        assert self._blocks is not None
        with open(self.path, "rb") as handle:
            data = os.pread(handle.fileno(), BLOCK_BYTES, block * BLOCK_BYTES)
        if block >= len(self._blocks) or zlib.crc32(data) != self._blocks[block]:
            raise self.damaged(f"does not match its checksum (block {block})")
        self._verified.add(block)


def _file_entry(path: Path) -> dict[str, Any]:
    """A file's manifest entry: its size and CRC-32, and each block's when it has several."""
    crc, blocks = 0, []
    with open(path, "rb") as handle:
        while chunk := handle.read(BLOCK_BYTES):
            crc = zlib.crc32(chunk, crc)
            blocks.append(zlib.crc32(chunk))
    entry: dict[str, Any] = {"bytes": path.stat().st_size, "crc32": crc}
    if len(blocks) > 1:
        entry["block_crc32"] = blocks
    return entry


def _file_crc(path: Path) -> int:
    crc = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(BLOCK_BYTES):
            crc = zlib.crc32(chunk, crc)
    return crc
