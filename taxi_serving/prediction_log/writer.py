"""The live worker's side of the journal: append each record before the answer, sync it, rotate full segments.

The layout, the reading and the adoption of a dead worker's folder are in ``journal``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Final

from taxi_serving.prediction_log.journal import JournalFolder, JournalUnavailableError, locked_folder

# a segment is deleted once full and shipped: shipped records hold at most this much disk per worker
SEGMENT_BYTES: Final = 4 << 20
# below this much free space the journal is reported unwritable (``/readyz`` not ready), refused write or not
FREE_BYTES_NEEDED: Final = 1 << 20


class JournalWriter:
    """The live worker's own folder: appends records, syncs them, rotates segments."""

    def __init__(
        self, root: Path, fsync_seconds: float = 1.0, segment_bytes: int = SEGMENT_BYTES, durable: bool = True
    ) -> None:
        self.root = root
        # not durable: records wait in memory until the shipper drains them (the cost of the journal, measured)
        self.durable = durable
        self._pending: list[bytes] = []
        self.worker = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.folder = JournalFolder(root / self.worker)
        self.fsync_seconds = fsync_seconds
        self.segment_bytes = segment_bytes
        self.appended = 0
        # the error of the last append the disk refused (ENOSPC...), None once one succeeds
        self.refused: str | None = None
        self._lock = threading.Lock()
        self._fd = -1
        self._lock_fd = -1
        self._segment = 1
        self._size = 0
        # descriptors of full segments, synced and closed by the shipper's thread
        self._retired: list[int] = []
        self._last_sync = time.monotonic()
        self._unsynced = False

    def open(self) -> None:
        """Create and lock this worker's folder and open its first segment.

        The folder is made under a hidden name and renamed once locked, so no other worker ever sees it unlocked.
        """
        self._lock_fd = locked_folder(self.folder.path)
        self._fd = self._open_segment(self._segment)

    def _open_segment(self, number: int) -> int:
        return os.open(self.folder.segment_path(number), os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)

    def append(self, record: bytes) -> None:
        """Append one record (no newline inside) with one system call; raise JournalUnavailableError if it fails."""
        line = record + b"\n"
        with self._lock:
            if not self.durable:
                self._pending.append(line)
                self.appended += 1
                return
            try:
                written = os.write(self._fd, line)
                while written < len(line):  # a short write (disk nearly full): finish the record or fail
                    written += os.write(self._fd, line[written:])
                if self.fsync_seconds <= 0:
                    os.fsync(self._fd)
            except OSError as exc:
                # a short write left part of a line: cut it, so the next record starts a line of its own
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, self._size)
                self.refused = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
                raise JournalUnavailableError(self.refused) from exc
            self.refused = None
            self.appended += 1
            self._size += len(line)
            self._unsynced = True
            self._rotate_if_full()

    def problem(self) -> str | None:
        """Why records cannot be journaled now, or None.

        Not only after this worker's own refused write: a disk with less than ``FREE_BYTES_NEEDED`` free is a
        problem for every worker on it, also one that has not written since it filled (its next request would
        be refused).
        """
        try:
            free = shutil.disk_usage(self.folder.path).free
        except OSError as exc:
            return f"the journal cannot be written ({self.refused or 'its folder is gone'}; {type(exc).__name__})"
        if free < FREE_BYTES_NEEDED:
            return f"the journal cannot be written ({self.refused or 'ENOSPC'}, {free:,} bytes free)"
        if self.refused is None or self.refused == "ENOSPC":
            return None  # room again: the next request tries, and a refusal reports again
        return f"the journal cannot be written ({self.refused}, {free:,} bytes free)"

    @property
    def segment(self) -> int:
        """The segment being appended to."""
        return self._segment

    def drain(self) -> None:
        """Write the records held in memory (only when not ``durable``)."""
        with self._lock:
            pending, self._pending = self._pending, []
            if pending:
                data = b"".join(pending)
                written = os.write(self._fd, data)
                while written < len(data):
                    written += os.write(self._fd, data[written:])
                self._size += len(data)
                self._unsynced = True
                self._rotate_if_full()

    def _rotate_if_full(self) -> None:
        """Start the next segment once this one holds ``segment_bytes`` (called with the lock held).

        Rotation follows the bytes written, never the shipper's rounds, so a given stream of records makes the
        same segments however the threads are scheduled. The full segment's descriptor is synced and closed by
        ``maintain``, off the request path; its records are readable at once and durable at the next sync, as
        the current segment's are.
        """
        if self._size < self.segment_bytes:
            return
        self._retired.append(self._fd)
        self._segment += 1
        self._fd = self._open_segment(self._segment)
        self._size = 0

    def maintain(self) -> None:
        """Sync if the interval has passed; sync and close the segments that rotation retired."""
        now = time.monotonic()
        if self._unsynced and now - self._last_sync >= self.fsync_seconds:
            self.sync()
        self._close_retired()

    def _close_retired(self) -> None:
        with self._lock:
            retired, self._retired = self._retired, []
        for fd in retired:
            with contextlib.suppress(OSError):
                os.fsync(fd)
            os.close(fd)

    def sync(self) -> None:
        """Force the appended records to disk."""
        self._unsynced = False
        self._last_sync = time.monotonic()
        with contextlib.suppress(OSError):
            os.fsync(self._fd)

    def close(self) -> None:
        """Sync and close the segment and release the folder (it stays if anything is left to ship)."""
        if self._fd >= 0:
            self.drain()
            self.sync()
            self._close_retired()
            os.close(self._fd)
            self._fd = -1
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1
