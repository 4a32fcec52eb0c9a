"""The prediction log writer: journal first, database next, and nothing lost in between.

``submit`` appends the row to this worker's journal (``journal.py``) before the handler answers. A background
thread ships journal records to ``prediction_log`` in batches, in order, and saves how far it got. A record the
database refuses (a constraint, a type) is found by halving the batch and moved to ``prediction_log_quarantine``
with the reason: the healthy rows of its batch arrive, nothing queues behind it. While the database is down,
records wait in the journal. A worker that died leaves its folder, which another worker (or its replacement)
adopts and ships. Shipping is idempotent: ``request_id`` is unique, and feedback only fills an empty fare.

Feedback that could not reach the database is journaled the same way. Applied before its prediction has arrived
(the prediction may wait in another worker's journal), it is deferred in a file of this worker's folder and
tried again, and quarantined if its prediction never arrives within ``feedback_wait_seconds``.
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
import psycopg2.errors
import sqlalchemy as sa
from psycopg2.extras import execute_values

from taxi_assets.lifecycle.alerts import Alert, Alerter, Kind, Severity
from taxi_assets.lifecycle.prediction_log import LOG_COLUMNS, PREDICTION_LOG, PREDICTION_LOG_QUARANTINE, LogRow
from taxi_assets.lifecycle.schema import ensure_schema
from taxi_serving.journal import (
    Chunk,
    JournalFolder,
    JournalWriter,
    Position,
    adopted,
    import_spill_files,
    orphans,
)

log = logging.getLogger("taxi_serving.logging_sink")
DEFERRED: Final = "deferred.jsonl"
ALERT_INTERVAL_SECONDS: Final = 60.0


@dataclass
class SinkCounters:
    """What the writer did since start; exported as metrics."""

    written: int = 0
    quarantined: int = 0
    adopted: int = 0
    feedback_journaled: int = 0
    feedback_applied: int = 0
    write_failures: int = 0
    database_ok: bool = True


class LogStoreDownError(Exception):
    """The log database did not answer; the records stay in the journal and are shipped later."""


class RecordRefusedError(Exception):
    """The database answered and refused this data (a constraint, a type): retrying it cannot help."""


class PredictionLogSink:
    """Journal every record, ship the journal to the database, quarantine what the database refuses."""

    def __init__(
        self,
        url: str,
        journal_dir: Path,
        batch_size: int = 500,
        flush_seconds: float = 0.5,
        replay_seconds: float = 5.0,
        fsync_seconds: float = 1.0,
        service: str | None = None,
        feedback_wait_seconds: float = 3600.0,
        durable: bool = True,
    ) -> None:
        self.url = url
        # the TLC service of this API: stamped on every row that does not name one, adopted rows included
        self.service = service
        self.engine = sa.create_engine(url, future=True, pool_pre_ping=True, **_engine_options(url))
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_wal)
        self.journal_dir = journal_dir
        self.writer = JournalWriter(journal_dir, fsync_seconds=fsync_seconds, durable=durable)
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.replay_seconds = replay_seconds
        self.feedback_wait_seconds = feedback_wait_seconds
        self.counters = SinkCounters()
        self.quarantine_reasons: collections.Counter[str] = collections.Counter()
        self._shipped_own = 0
        self._round = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prediction-log-writer", daemon=True)
        self._encoder = msgspec.json.Encoder()
        self._schema_ready = False
        self._unalerted: collections.Counter[str] = collections.Counter()
        self._last_alert = 0.0

    # -- the request path ---------------------------------------------------------------------------------------

    def submit(self, row: LogRow) -> None:
        """Append a row to the journal (one write; raises JournalUnavailableError if the disk refuses it)."""
        self.writer.append(self._encoder.encode(row))

    def submit_feedback(self, request_id: str, actual_fare: float) -> None:
        """Journal a ground-truth fare whose database update failed; it is applied when the database answers."""
        record = {"feedback": request_id, "actual_fare": actual_fare, "at": _now_text()}
        self.writer.append(self._encoder.encode(record))
        self.counters.feedback_journaled += 1

    def record_feedback(self, request_id: str, actual_fare: float) -> tuple[str, float | None]:
        """Join a ground-truth fare to its logged prediction: ("ok" | "missing" | "conflict", prediction).

        Raises LogStoreDownError when the database does not answer.
        """
        table = PREDICTION_LOG
        try:
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
        except (sa.exc.SQLAlchemyError, *DRIVER_ERRORS) as exc:
            self.counters.database_ok = False
            raise LogStoreDownError(type(exc).__name__) from exc

    @property
    def backlog(self) -> int:
        """Records this worker journaled that are not in the database yet."""
        # the writer counts a record just after writing it, so the shipper may have read it a moment before
        return max(0, self.writer.appended - self._shipped_own)

    # -- lifecycle ----------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Open this worker's journal, migrate the database if it answers, and start shipping."""
        self.writer.open()
        moved = import_spill_files(self.journal_dir.parent / "spill", self.journal_dir)
        if moved:
            log.info("%d spill file(s) of the previous release moved into the journal", moved)
        try:
            self._ensure_schema()
        except LogStoreDownError as exc:
            self.counters.database_ok = False
            log.error("prediction log database unavailable at start-up, rows wait in the journal: %s", exc)
        self._thread.start()

    def flush(self, timeout: float = 10.0) -> bool:
        """Ship now; True once everything this worker journaled is in the database (False on timeout or outage)."""
        deadline = time.monotonic() + timeout
        target = self._round + 2  # a whole round that started after this call
        while time.monotonic() < deadline:
            self._wake.set()
            if self.backlog == 0:
                return True
            if self._round >= target and not self.counters.database_ok:
                return False
            time.sleep(0.002)
        return self.backlog == 0

    def stop(self) -> None:
        """Ship what the database takes, stop the writer, and leave the rest for the next worker to adopt."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self.writer.close()
        deferred = self.writer.folder.path / DEFERRED
        if self.backlog == 0 and not (deferred.exists() and deferred.stat().st_size):
            self.writer.folder.remove()
        else:
            log.warning("%d prediction log record(s) left in the journal for the next worker", self.backlog)
        self.engine.dispose()

    def _run(self) -> None:
        last_replay = 0.0
        while True:
            stopping = self._stop.is_set()
            if not stopping:
                self._wake.wait(self.flush_seconds)
                self._wake.clear()
            try:
                self._ship_own()
                self.writer.maintain()
                if stopping or time.monotonic() - last_replay >= self.replay_seconds:
                    last_replay = time.monotonic()
                    self._adopt_orphans()
                    self._retry_deferred()
                    self._alert_quarantine()
            except Exception:
                # a bug here must not stop the writer (every later record would wait): say so, try again
                self.counters.write_failures += 1
                log.exception("unexpected prediction log writer error; the records stay in the journal")
            self._round += 1
            if stopping:
                return

    # -- shipping -----------------------------------------------------------------------------------------------

    def _ship_own(self) -> None:
        self.writer.drain()
        self._shipped_own += self._ship_folder(self.writer.folder, owner_alive=True)[0]

    def _adopt_orphans(self) -> None:
        """Ship and remove the folders of workers that are gone (a restart's predecessor, a killed process)."""
        for path in orphans(self.journal_dir, self.writer.worker):
            with adopted(path) as folder:
                if folder is None:
                    continue
                shipped, done = self._ship_folder(folder, owner_alive=False)
                self.counters.adopted += shipped
                if shipped:
                    log.info("shipped %d prediction log record(s) left by %s", shipped, path.name)
                if not done:
                    return
                self._take_deferred(folder)
                folder.remove()

    def _ship_folder(self, folder: JournalFolder, owner_alive: bool) -> tuple[int, bool]:
        """Ship every complete record of ``folder``: (records shipped, whether it got to the end)."""
        position = folder.committed()
        shipped = 0
        while True:
            chunk = folder.read(position, owner_alive)
            for start in range(0, len(chunk.records), self.batch_size):
                batch = chunk.records[start : start + self.batch_size]
                if not self._ship(batch):
                    return shipped, False
                position = chunk.position_after(start + len(batch))
                folder.commit(position)
                shipped += len(batch)
            if chunk.records:
                continue
            if not chunk.finished:
                return shipped, True
            if not self._finish_segment(folder, chunk):
                return shipped, False
            if chunk.next_segment is None:
                return shipped, True
            position = Position(chunk.next_segment, 0)

    def _finish_segment(self, folder: JournalFolder, chunk: Chunk) -> bool:
        """Quarantine a torn last record, move past the segment and delete it."""
        if chunk.torn:
            try:
                self._quarantine(chunk.torn, "an incomplete journal record (the machine stopped mid-write)")
            except LogStoreDownError:
                return False
        if chunk.next_segment is not None:
            folder.commit(Position(chunk.next_segment, 0))
            folder.segment_path(chunk.start.segment).unlink(missing_ok=True)
        return True

    def _ship(self, records: list[bytes]) -> bool:
        """Store one batch of journal records; False (nothing committed) when the database is down."""
        rows: list[LogRow] = []
        feedback: list[dict[str, Any]] = []
        unreadable: list[bytes] = []
        for record, value in _decoded(records):
            if value is None:
                unreadable.append(record)
            elif isinstance(value, dict):
                feedback.append(value)
            elif isinstance(value, list):
                rows.append(self._stamped(value))
            else:
                unreadable.append(record)
        try:
            for record in unreadable:
                self._quarantine(record, "an unreadable journal record")
            self._store(rows)
            for item in feedback:
                self._apply_journaled_feedback(item)
        except LogStoreDownError as exc:
            if self.counters.database_ok:
                log.warning("prediction log database down (%s); records wait in the journal", exc)
            self.counters.write_failures += 1
            self.counters.database_ok = False
            return False
        self.counters.database_ok = True
        return True

    def _stamped(self, row: list[Any]) -> LogRow:
        if len(row) == len(LOG_COLUMNS) - 1:  # spilled by a release before the service column (revision 0003)
            row = [*row, None]
        if len(row) == len(LOG_COLUMNS) and row[-1] is None and self.service is not None:
            row[-1] = self.service
        return tuple(row)

    def _store(self, rows: list[LogRow]) -> None:
        """Insert ``rows``; halve a refused batch until the refused rows are alone, and quarantine those."""
        if not rows:
            return
        try:
            self._insert(rows)
        except RecordRefusedError as exc:
            if len(rows) == 1:
                self._quarantine(self._encoder.encode(rows[0]), str(exc))
                return
            middle = len(rows) // 2
            self._store(rows[:middle])
            self._store(rows[middle:])
            return
        self.counters.written += len(rows)

    def _ensure_schema(self) -> None:
        """Run the migrations once per process; until they have run, every insert tries again."""
        if self._schema_ready:
            return
        try:
            ensure_schema(self.engine)
        except (sa.exc.SQLAlchemyError, *DRIVER_ERRORS) as exc:
            raise LogStoreDownError(type(exc).__name__) from exc
        self._schema_ready = True

    def _insert(self, rows: list[LogRow]) -> None:
        """Insert one batch in one transaction through the driver's own bulk path.

        SQLAlchemy's per-row parameter processing would cost the API process more CPU than a request does.
        """
        self._ensure_schema()
        dialect = self.engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            try:
                with self.engine.begin() as connection:
                    connection.execute(
                        PREDICTION_LOG.insert(), [dict(zip(LOG_COLUMNS, row, strict=True)) for row in rows]
                    )
            except (sa.exc.DataError, sa.exc.IntegrityError, ValueError, TypeError) as exc:
                raise RecordRefusedError(_reason(exc)) from exc
            except sa.exc.SQLAlchemyError as exc:
                raise LogStoreDownError(type(exc).__name__) from exc
            return
        try:
            raw = self.engine.raw_connection()
        except (sa.exc.SQLAlchemyError, *DRIVER_ERRORS) as exc:
            raise LogStoreDownError(type(exc).__name__) from exc
        try:
            cursor = raw.cursor()
            if dialect == "sqlite":
                cursor.executemany(_SQLITE_INSERT, rows)
            else:
                execute_values(cursor, _POSTGRES_INSERT, rows, page_size=1_000)
            raw.commit()
        except Exception as exc:
            if isinstance(exc, REFUSED) and not isinstance(exc, MISSING_SCHEMA):
                with contextlib.suppress(Exception):
                    raw.rollback()
            else:
                # most likely a dead connection: drop it from the pool rather than reset it (which fails loudly)
                with contextlib.suppress(Exception):
                    raw.invalidate()
            if isinstance(exc, MISSING_SCHEMA):
                self._schema_ready = False  # someone dropped a table: migrate again before the next try
            elif isinstance(exc, REFUSED):
                raise RecordRefusedError(_reason(exc)) from exc
            raise LogStoreDownError(type(exc).__name__) from exc
        finally:
            with contextlib.suppress(Exception):
                raw.close()

    def _quarantine(self, record: bytes, reason: str) -> None:
        """Keep a refused record with its reason (raises LogStoreDownError if even that cannot be stored)."""
        text = record.decode("utf-8", "replace").replace("\x00", "\\u0000")
        request_id = None
        with contextlib.suppress(msgspec.DecodeError):
            value = msgspec.json.decode(record)
            found = (
                value[0]
                if isinstance(value, list) and value
                else (value.get("feedback") if isinstance(value, dict) else None)
            )
            request_id = found[:200] if isinstance(found, str) else None
        try:
            self._ensure_schema()
            with self.engine.begin() as connection:
                connection.execute(
                    PREDICTION_LOG_QUARANTINE.insert().values(
                        quarantined_at=datetime.now(UTC),
                        service=self.service,
                        request_id=request_id.replace("\x00", "") if request_id else None,
                        reason=reason[:500],
                        record=text[:100_000],
                    )
                )
        except (sa.exc.SQLAlchemyError, *DRIVER_ERRORS, ValueError) as exc:
            raise LogStoreDownError(type(exc).__name__) from exc
        self.counters.quarantined += 1
        kind = reason.split(":", 1)[0]
        self.quarantine_reasons[kind] += 1
        self._unalerted[kind] += 1
        log.warning("prediction log record %s quarantined: %s", request_id, reason)

    def _alert_quarantine(self) -> None:
        """One alert per minute at most, with the count of each reason since the last one."""
        if not self._unalerted or time.monotonic() - self._last_alert < ALERT_INTERVAL_SECONDS:
            return
        count = sum(self._unalerted.values())
        alert = Alert(
            severity=Severity.WARNING,
            kind=Kind.LOG_QUARANTINED,
            service=self.service or "unknown",
            title=f"{count} prediction log record(s) refused by the database and quarantined",
            details={"reasons": dict(self._unalerted), "table": PREDICTION_LOG_QUARANTINE.name},
        )
        try:
            Alerter(self.url).send(alert)
        except (sa.exc.SQLAlchemyError, *DRIVER_ERRORS):
            return  # the database is down again: the next round tries
        self._unalerted.clear()
        self._last_alert = time.monotonic()

    # -- journaled feedback -------------------------------------------------------------------------------------

    def _apply_journaled_feedback(self, item: dict[str, Any]) -> None:
        request_id, fare = item.get("feedback"), item.get("actual_fare")
        if not isinstance(request_id, str) or isinstance(fare, bool) or not isinstance(fare, int | float):
            self._quarantine(self._encoder.encode(item), "a feedback record without request_id or fare")
            return
        outcome, _ = self.record_feedback(request_id, float(fare))
        if outcome == "ok":
            self.counters.feedback_applied += 1
        elif outcome == "missing":
            self._defer([item])
        else:
            log.info("journaled feedback for %s found a fare already recorded; the first one stands", request_id)

    def _defer(self, items: list[dict[str, Any]]) -> None:
        path = self.writer.folder.path / DEFERRED
        with path.open("ab") as handle:
            handle.write(b"".join(self._encoder.encode(item) + b"\n" for item in items))
            handle.flush()

    def _retry_deferred(self) -> None:
        """Apply deferred feedback whose prediction has arrived; quarantine what waited too long.

        The file is replaced in one step by what still waits (only this thread writes it), so it never goes
        missing: a process killed in the middle leaves the whole file, and applying again is idempotent.
        """
        path = self.writer.folder.path / DEFERRED
        if not path.exists() or not path.stat().st_size:
            return
        still: list[dict[str, Any]] = []
        try:
            for line in path.read_bytes().splitlines():
                item = msgspec.json.decode(line)
                outcome, _ = self.record_feedback(item["feedback"], float(item["actual_fare"]))
                if outcome == "ok":
                    self.counters.feedback_applied += 1
                elif outcome == "missing":
                    if _age_seconds(item.get("at")) > self.feedback_wait_seconds:
                        self._quarantine(line, "feedback whose prediction never reached the log")
                    else:
                        still.append(item)
        except LogStoreDownError:
            return  # the file stays as it is: every item is tried again
        replacement = path.with_suffix(".next")
        with replacement.open("wb") as handle:
            handle.write(b"".join(self._encoder.encode(item) + b"\n" for item in still))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(replacement, path)

    def _take_deferred(self, folder: JournalFolder) -> None:
        """An adopted folder's deferred feedback becomes this worker's."""
        path = folder.path / DEFERRED
        if path.exists() and path.stat().st_size:
            with (self.writer.folder.path / DEFERRED).open("ab") as handle:
                handle.write(path.read_bytes())


def _decoded(records: list[bytes]) -> list[tuple[bytes, Any]]:
    """Each record with its JSON value (None if unreadable): one decode call for the batch, per record on failure."""
    try:
        values = msgspec.json.decode(b"[" + b",".join(records) + b"]")
    except msgspec.DecodeError:
        values = None
    if isinstance(values, list) and len(values) == len(records):
        return list(zip(records, values, strict=True))
    decoded: list[tuple[bytes, Any]] = []
    for record in records:
        try:
            decoded.append((record, msgspec.json.decode(record)))
        except msgspec.DecodeError:
            decoded.append((record, None))
    return decoded


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 30}}
    return {"pool_size": 2, "max_overflow": 2, "connect_args": {"connect_timeout": 3}}


def _reason(exc: BaseException) -> str:
    """An exception as a one-line reason for the quarantine table."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}"[:500]


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00:00")


def _age_seconds(text: object) -> float:
    try:
        return (datetime.now(UTC) - datetime.fromisoformat(str(text))).total_seconds()
    except ValueError:
        return float("inf")


# quoted: PostgreSQL folds unquoted names to lower case (RatecodeID)
_QUOTED: Final = ", ".join(f'"{name}"' for name in LOG_COLUMNS)
_SQLITE_INSERT: Final = (
    f"INSERT INTO prediction_log ({_QUOTED}) VALUES ({', '.join('?' for _ in LOG_COLUMNS)}) "
    "ON CONFLICT (request_id) DO NOTHING"
)
_POSTGRES_INSERT: Final = f"INSERT INTO prediction_log ({_QUOTED}) VALUES %s ON CONFLICT (request_id) DO NOTHING"
DRIVER_ERRORS: Final = (sqlite3.Error, psycopg2.Error, OSError)
# the database answered and refused the data: retrying the same row cannot succeed
REFUSED: Final = (
    psycopg2.DataError,
    psycopg2.IntegrityError,
    psycopg2.ProgrammingError,
    sqlite3.IntegrityError,
    sqlite3.ProgrammingError,
    sqlite3.InterfaceError,
    sqlite3.DataError,
    ValueError,
    TypeError,
    OverflowError,
)
MISSING_SCHEMA: Final = (psycopg2.errors.UndefinedTable, psycopg2.errors.UndefinedColumn)


def _sqlite_wal(dbapi_connection: Any, connection_record: Any) -> None:
    """SQLite in WAL mode: readers never block the writer, and several workers can share the file."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
