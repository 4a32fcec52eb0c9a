"""The prediction log's journal: every API worker appends each record to files of its own before it answers.

Layout under the journal root (``$TAXI_HOME/serving/journal``), one folder per worker process::

    <worker>/lock            flock-held by the live owner; the kernel frees it when the process dies (kill -9 too)
    <worker>/000001.jsonl    append-only segments, one JSON record per line
    <worker>/committed       "<segment> <offset>": every record before it is in the database

A record is appended with one ``write`` system call, so it is in the kernel's page cache before the response
goes out: a killed process loses nothing. ``fsync`` runs every ``fsync_seconds`` (0: after every record), which
bounds what a failure of the *machine* can lose. Only the owner writes a folder; once its owner is gone (its
lock is free), exactly one other worker adopts it, ships what is left and removes it. No two processes ever
touch the same file at the same time.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

LOCK: Final = "lock"
COMMITTED: Final = "committed"
SEGMENT: Final = re.compile(r"^(\d{6})\.jsonl$")
READ_BYTES: Final = 4 << 20  # a read never holds more than this; a record is a few hundred bytes
OVERSIZED_KEPT: Final = 100_000  # what the quarantine keeps of a record longer than a read


class JournalUnavailableError(Exception):
    """A record could not be appended (disk full, folder gone): the request must not be answered as logged."""


@dataclass(frozen=True)
class Position:
    """Where shipping stands: a segment number and a byte offset in it."""

    segment: int
    offset: int


@dataclass(frozen=True)
class Chunk:
    """Complete records read from one segment, and what to do next.

    ``records`` start at ``start``; each is followed by one newline. When the segment is finished
    (``finished``), ``torn`` holds an incomplete last record, if any (a crash of the machine mid-write).
    """

    start: Position
    records: list[bytes]
    finished: bool = False
    torn: bytes = b""
    next_segment: int | None = None
    # after a record too long to be one of the API's (over READ_BYTES, noted in the folder's damage): the next one
    resume: Position | None = None

    def position_after(self, count: int) -> Position:
        """The position just after the first ``count`` records."""
        size = sum(len(record) + 1 for record in self.records[:count])
        return Position(self.start.segment, self.start.offset + size)


class JournalFolder:
    """One worker's folder, read by its owner or by the worker that adopted it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # the last position saved, kept in memory too: a save that fails (a full disk) must not make shipping repeat
        self._saved: Position | None = None
        # impossible states found and repaired, each with the bytes to keep and why (the sink quarantines them)
        self.damage: list[tuple[bytes, str]] = []

    def segments(self) -> list[int]:
        """Segment numbers, oldest first."""
        try:
            names = os.listdir(self.path)
        except FileNotFoundError:
            return []
        return sorted(int(match.group(1)) for name in names if (match := SEGMENT.match(name)))

    def segment_path(self, number: int) -> Path:
        """The file of segment ``number``."""
        return self.path / f"{number:06d}.jsonl"

    def committed(self) -> Position:
        """The saved shipping position, or the start of the oldest segment.

        A saved offset past its segment's end cannot be: shipping starts that segment again (idempotent) and the
        damage is noted, rather than taking the segment as shipped.
        """
        if self._saved is not None:
            return self._saved
        try:
            segment, offset = (self.path / COMMITTED).read_text().split()
            position = Position(int(segment), int(offset))
        except (FileNotFoundError, ValueError):
            segments = self.segments()
            return Position(segments[0] if segments else 1, 0)
        size = self._size(position.segment)
        if size is not None and position.offset > size:
            reason = f"an impossible journal position: offset {position.offset} past the end of segment {segment}"
            self.damage.append((f"{self.path.name} {segment} {position.offset} > {size}".encode(), reason))
            return Position(position.segment, 0)
        return position

    def _size(self, segment: int) -> int | None:
        try:
            return self.segment_path(segment).stat().st_size
        except FileNotFoundError:
            return None

    def commit(self, position: Position) -> None:
        """Save the shipping position (atomically; a lost save only makes shipping repeat, which is idempotent).

        A save the disk refuses (full) is kept in memory: this process goes on from it, and a full disk never
        stops shipping, which is what frees space.
        """
        self._saved = position
        temporary = self.path / f"{COMMITTED}.tmp"
        try:
            temporary.write_text(f"{position.segment} {position.offset}\n")
            os.replace(temporary, self.path / COMMITTED)
        except OSError:
            with contextlib.suppress(OSError):
                temporary.unlink()

    def read(self, position: Position, owner_alive: bool) -> Chunk:
        """Complete records from ``position`` on, in its segment; says when that segment is finished.

        A segment is finished when a newer one exists (the owner rotated) or the owner is gone, and nothing
        complete is left in it. The newer segment is checked *before* the final read, so a record the owner
        wrote just before rotating is never skipped.
        """
        records = self._complete(position)
        if records:
            return Chunk(position, records)
        oversized = self._oversized(position)
        if oversized is not None:
            return oversized
        newer = [number for number in self.segments() if number > position.segment]
        if owner_alive and not newer:
            return Chunk(position, [])
        records = self._complete(position)
        if records:
            return Chunk(position, records)
        tail = self._read(position)
        return Chunk(position, [], finished=True, torn=tail, next_segment=newer[0] if newer else None)

    def _read(self, position: Position) -> bytes:
        try:
            with self.segment_path(position.segment).open("rb") as handle:
                handle.seek(position.offset)
                return handle.read(READ_BYTES)
        except FileNotFoundError:
            return b""

    def _oversized(self, position: Position) -> Chunk | None:
        """After a record longer than a whole read (no newline in READ_BYTES): the next record's start; noted."""
        data = self._read(position)
        if len(data) < READ_BYTES or b"\n" in data:
            return None
        offset = position.offset + len(data)
        while True:
            more = self._read(Position(position.segment, offset))
            if not more:
                return None  # no end yet: a torn tail, handled when the segment is finished
            if b"\n" in more:
                end = offset + more.index(b"\n") + 1
                length = end - position.offset - 1
                reason = f"a journal record of {length} bytes, over a read's {READ_BYTES} (its start kept)"
                self.damage.append((data[:OVERSIZED_KEPT], reason))
                return Chunk(position, [], resume=Position(position.segment, end))
            offset += len(more)

    def _complete(self, position: Position) -> list[bytes]:
        data = self._read(position)
        end = data.rfind(b"\n") + 1
        return data[: end - 1].split(b"\n") if end else []

    def remove(self) -> None:
        """Delete the folder (only once everything in it is shipped).

        It is first renamed out of sight, so another adopter never finds it half deleted (without its lock file,
        which would read as damage).
        """
        gone = self.path.with_name(f".gone-{self.path.name}")
        try:
            self.path.rename(gone)
        except OSError:
            gone = self.path
        shutil.rmtree(gone, ignore_errors=True)


def locked_folder(path: Path) -> int:
    """Create ``path`` with its lock file held by this process; return the lock's descriptor."""
    hidden = path.with_name(f".{path.name}")
    hidden.mkdir(parents=True)
    fd = os.open(hidden / LOCK, os.O_CREAT | os.O_RDWR, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    hidden.rename(path)
    return fd


@contextlib.contextmanager
def adopted(path: Path) -> Iterator[JournalFolder | None]:
    """Lock a folder whose owner is gone; yields None when its owner is alive or another worker has it."""
    relocked = False
    try:
        fd = os.open(path / LOCK, os.O_RDWR)
    except FileNotFoundError:
        # a folder is only ever visible with its lock file (``locked_folder``): someone deleted it. Unless its
        # owner still runs here, make a new one, so the records are shipped rather than forgotten
        if not path.is_dir() or _owner_alive(path.name):
            yield None
            return
        try:
            fd = os.open(path / LOCK, os.O_CREAT | os.O_RDWR, 0o600)
        except OSError:  # removed meanwhile by the adopter that shipped it
            yield None
            return
        relocked = True
    except OSError:
        yield None
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield None
            return
        # another adopter may have shipped and removed the folder between our open and our lock
        folder = JournalFolder(path) if os.fstat(fd).st_nlink > 0 else None
        if folder is not None and relocked:
            folder.damage.append(
                (path.name.encode(), "a journal folder without its lock file (adopted with a new one)")
            )
        yield folder
    finally:
        os.close(fd)


def _owner_alive(name: str) -> bool:
    """Whether the worker named by a folder (``<host>-<pid>-<tag>``) runs on this host."""
    host, _, rest = name.rpartition("-")[0].rpartition("-")
    pid = rest if rest.isdigit() else ""
    if host != socket.gethostname() or not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def orphans(root: Path, own: str) -> list[Path]:
    """Other workers' folders under ``root`` (alive or not: ``adopted`` tells)."""
    try:
        return sorted(p for p in root.iterdir() if p.is_dir() and p.name != own and not p.name.startswith("."))
    except FileNotFoundError:
        return []


def import_spill_files(spill_dir: Path, root: Path) -> int:
    """Move the spill files of the previous release into journal folders of their own, to be shipped as orphans."""
    moved = 0
    for path in sorted(spill_dir.glob("*.jsonl")) if spill_dir.is_dir() else []:
        folder = root / f"spill-{path.stem}-{uuid.uuid4().hex[:8]}"
        fd = locked_folder(folder)
        try:
            path.rename(JournalFolder(folder).segment_path(1))  # atomic: of two workers, one wins
            moved += 1
        except FileNotFoundError:
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            os.close(fd)
    return moved
