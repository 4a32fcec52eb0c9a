"""The prediction log: a batching writer that never blocks a response and never drops a row silently.

Handlers call ``submit`` (a non-blocking append). A background thread writes batches (bounded by size and
time) to ``prediction_log``. If the database fails, the batch is appended to a local spill file (JSON lines)
and replayed when the database answers again; replay is idempotent (``request_id`` is unique). If the queue
is full, the row goes straight to the spill file and the overflow is counted.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import msgspec
import psycopg2
import sqlalchemy as sa
from psycopg2.extras import execute_values

from taxi_assets.lifecycle.prediction_log import LOG_COLUMNS, PREDICTION_LOG, LogRow
from taxi_assets.lifecycle.schema import ensure_schema

log = logging.getLogger("taxi_serving.logging_sink")
SPILL_SUFFIX: Final = ".jsonl"


@dataclass
class SinkCounters:
    """What the writer did; exported as metrics."""

    written: int = 0
    spilled: int = 0
    overflowed: int = 0
    replayed: int = 0
    write_failures: int = 0
    database_ok: bool = True


class PredictionLogSink:
    """Background batching writer with spill-to-file and replay."""

    def __init__(
        self,
        url: str,
        spill_dir: Path,
        batch_size: int = 500,
        flush_seconds: float = 0.5,
        queue_max: int = 100_000,
        replay_seconds: float = 5.0,
        service: str | None = None,
    ) -> None:
        self.url = url
        # the TLC service of this API: stamped on every row that does not name one, spilled rows included
        self.service = service
        self.engine = sa.create_engine(url, future=True, pool_pre_ping=True, **_engine_options(url))
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_wal)
        self.spill_dir = spill_dir
        self.spill_path = spill_dir / f"prediction_log-{os.getpid()}{SPILL_SUFFIX}"
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.replay_seconds = replay_seconds
        self.queue_max = queue_max
        # a deque, not a queue.Queue: appends take no lock and wake nobody, so the writer thread never
        # competes with the event loop per request (a Queue's notify on every put cost a third of throughput)
        self._buffer: collections.deque[LogRow] = collections.deque()
        self._busy = False
        self._wake = threading.Event()
        self.counters = SinkCounters()
        self._spill_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prediction-log-writer", daemon=True)
        self._encoder = msgspec.json.Encoder()
        self._schema_ready = False

    def start(self) -> None:
        """Migrate the platform database if needed and start the writer."""
        self.spill_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._ensure_schema()
        except LogStoreError as exc:
            self.counters.database_ok = False
            log.error("prediction log database unavailable at start-up, rows will spill: %s", exc)
        self._thread.start()

    def _ensure_schema(self) -> None:
        """Run the migrations once per process; until they have run, every insert tries again."""
        if self._schema_ready:
            return
        try:
            ensure_schema(self.engine)
        except (sa.exc.SQLAlchemyError, *DRIVER_ERRORS) as exc:
            raise LogStoreError(type(exc).__name__) from exc
        self._schema_ready = True

    def submit(self, row: LogRow) -> None:
        """Buffer a row without blocking; past ``queue_max`` rows it goes to the spill file (counted)."""
        if len(self._buffer) >= self.queue_max:
            self.counters.overflowed += 1
            self._spill([row])
            return
        self._buffer.append(row)

    @property
    def depth(self) -> int:
        """Rows waiting to be written."""
        return len(self._buffer)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every buffered row has been written or spilled; True if that happened in time."""
        deadline = time.monotonic() + timeout
        self._wake.set()
        while (self._buffer or self._busy) and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(0.002)
        return not self._buffer and not self._busy

    def stop(self) -> None:
        """Flush the buffer, try one last replay, stop the writer."""
        self.flush()
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.replay()
        self.engine.dispose()

    def _run(self) -> None:
        last_replay = time.monotonic()
        while not self._stop.is_set() or self._buffer:
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            self._busy = True  # before popping, so flush never sees an empty buffer with rows in hand
            try:
                while self._buffer:
                    batch = [self._buffer.popleft() for _ in range(min(self.batch_size, len(self._buffer)))]
                    self._write(batch)
            finally:
                self._busy = False
            if time.monotonic() - last_replay >= self.replay_seconds:
                last_replay = time.monotonic()
                self.replay()

    def _write(self, batch: list[LogRow]) -> None:
        try:
            self._insert(batch)
            self.counters.written += len(batch)
            self.counters.database_ok = True
        except (sa.exc.SQLAlchemyError, LogStoreError) as exc:
            self.counters.write_failures += 1
            self.counters.database_ok = False
            log.warning("prediction log write failed (%s); %d rows spilled", type(exc).__name__, len(batch))
            self._spill(batch)
        except Exception:
            # a bug here must not kill the writer (every later row would wait forever): keep the rows, say so
            self.counters.write_failures += 1
            log.exception("unexpected prediction log write error; %d rows spilled", len(batch))
            self._spill(batch)

    def _insert(self, rows: list[LogRow]) -> None:
        """Insert one batch in one transaction through the driver's own bulk path.

        SQLAlchemy's per-row parameter processing would cost the API process more CPU than a request does.
        """
        self._ensure_schema()
        if self.service is not None:
            rows = [row if row[-1] is not None else (*row[:-1], self.service) for row in rows]
        dialect = self.engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            with self.engine.begin() as connection:
                connection.execute(PREDICTION_LOG.insert(), [dict(zip(LOG_COLUMNS, row, strict=True)) for row in rows])
            return
        try:
            raw = self.engine.raw_connection()
        except (sa.exc.SQLAlchemyError, *DRIVER_ERRORS) as exc:
            raise LogStoreError(type(exc).__name__) from exc
        try:
            cursor = raw.cursor()
            if dialect == "sqlite":
                cursor.executemany(_SQLITE_INSERT, rows)
            else:
                execute_values(cursor, _POSTGRES_INSERT, rows, page_size=1_000)
            raw.commit()
        except DRIVER_ERRORS as exc:
            with contextlib.suppress(*DRIVER_ERRORS):
                raw.rollback()
            raise LogStoreError(type(exc).__name__) from exc
        finally:
            with contextlib.suppress(sa.exc.SQLAlchemyError, *DRIVER_ERRORS):
                raw.close()

    def _spill(self, rows: list[LogRow]) -> None:
        with self._spill_lock:
            self.spill_dir.mkdir(parents=True, exist_ok=True)
            with self.spill_path.open("ab") as handle:
                for row in rows:
                    handle.write(self._encoder.encode(row) + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
            self.counters.spilled += len(rows)

    def replay(self) -> int:
        """Insert spilled rows (of any process) if the database answers; return how many were replayed."""
        replayed = 0
        for path in sorted(self.spill_dir.glob(f"*{SPILL_SUFFIX}")):
            with self._spill_lock:
                if not path.exists() or path.stat().st_size == 0:
                    continue
                claimed = path.with_suffix(f".replaying-{os.getpid()}")
                path.rename(claimed)
            rows = [_decode_row(line) for line in claimed.read_bytes().splitlines() if line.strip()]
            try:
                for start in range(0, len(rows), self.batch_size):
                    self._insert(rows[start : start + self.batch_size])
            except (sa.exc.SQLAlchemyError, LogStoreError):
                # still down: give the rows back to the spill file
                with self._spill_lock, path.open("ab") as handle:
                    handle.write(claimed.read_bytes())
                claimed.unlink()
                self.counters.database_ok = False
                return replayed
            claimed.unlink()
            replayed += len(rows)
        if replayed:
            self.counters.replayed += replayed
            self.counters.written += replayed
            self.counters.database_ok = True
            log.info("replayed %d spilled prediction log rows", replayed)
        return replayed

    def pending_spill_rows(self) -> int:
        """Rows in spill files, waiting for the database."""
        return sum(len(p.read_bytes().splitlines()) for p in self.spill_dir.glob(f"*{SPILL_SUFFIX}") if p.exists())

    def record_feedback(self, request_id: str, actual_fare: float) -> tuple[str, float | None]:
        """Join a ground-truth fare to its logged prediction: ("ok" | "missing" | "conflict", prediction)."""
        table = PREDICTION_LOG
        with self.engine.begin() as connection:
            row = connection.execute(
                sa.select(table.c.prediction, table.c.actual_fare).where(table.c.request_id == request_id)
            ).first()
            if row is None or row.prediction is None:
                return "missing", None
            if row.actual_fare is not None:
                return "conflict", float(row.prediction)
            updated = connection.execute(
                table.update()
                .where(table.c.request_id == request_id, table.c.actual_fare.is_(None))
                .values(actual_fare=actual_fare, feedback_at=datetime.now(UTC))
            )
            if updated.rowcount == 0:
                return "conflict", float(row.prediction)
            return "ok", float(row.prediction)


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    return {"pool_size": 2, "max_overflow": 2, "connect_args": {"connect_timeout": 3}}


# quoted: PostgreSQL folds unquoted names to lower case (RatecodeID)
_QUOTED: Final = ", ".join(f'"{name}"' for name in LOG_COLUMNS)
_SQLITE_INSERT: Final = (
    f"INSERT INTO prediction_log ({_QUOTED}) VALUES ({', '.join('?' for _ in LOG_COLUMNS)}) "
    "ON CONFLICT (request_id) DO NOTHING"
)
_POSTGRES_INSERT: Final = f"INSERT INTO prediction_log ({_QUOTED}) VALUES %s ON CONFLICT (request_id) DO NOTHING"
DRIVER_ERRORS: Final = (sqlite3.Error, psycopg2.Error, OSError)


class LogStoreError(Exception):
    """The log database did not take a batch."""


def _decode_row(line: bytes) -> LogRow:
    row: list[Any] = msgspec.json.decode(line)
    # spilled before the service column existed (revision 0003): the replaying writer stamps its service
    return (*row, None) if len(row) == len(LOG_COLUMNS) - 1 else tuple(row)


def _sqlite_wal(dbapi_connection: Any, connection_record: Any) -> None:
    """SQLite in WAL mode: readers never block the writer, and several workers can share the file."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
