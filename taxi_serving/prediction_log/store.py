"""The prediction log's database side: batch inserts, refused records, quarantine, and joining feedback.

``LogStore`` is what ``PredictionLogSink`` ships the journal to. It tells an outage (``LogStoreDownError``: the
records stay in the journal and are shipped later) from data the database refuses (``RecordRefusedError``:
retrying cannot help, so the record goes to ``prediction_log_quarantine``). Inserts go through the driver's own
bulk path on SQLite and PostgreSQL, and are idempotent (``request_id`` is unique).
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import msgspec
import psycopg2
import psycopg2.errors
import sqlalchemy as sa
from psycopg2.extras import execute_values

from taxi_assets.platform_db.prediction_log import LOG_COLUMNS, PREDICTION_LOG, PREDICTION_LOG_QUARANTINE, LogRow
from taxi_assets.platform_db.schema import ensure_schema


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
    # why the database refuses this API's writes (a privilege, read-only, a missing table), while it does
    store_problem: str | None = None


class LogStoreDownError(Exception):
    """The log database did not answer; the records stay in the journal and are shipped later."""


class LogStoreMisconfiguredError(LogStoreDownError):
    """The database answered and refuses this API's writes for a reason an operator must fix.

    A privilege, a read-only database, a missing table: not the data's fault, so nothing is quarantined and the
    records wait in the journal.
    """


class RecordRefusedError(Exception):
    """The database answered and refused this data (a constraint, a type): retrying it cannot help."""


class LogStore:
    """The platform database as the prediction log writer uses it; migrated on first use."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = sa.create_engine(url, future=True, pool_pre_ping=True, **_engine_options(url))
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_wal)
        self._schema_ready = False

    def dispose(self) -> None:
        """Close the pooled connections."""
        self.engine.dispose()

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
            raise LogStoreDownError(type(exc).__name__) from exc

    def ensure_schema(self) -> None:
        """Run the migrations once per process; until they have run, every insert tries again."""
        if self._schema_ready:
            return
        try:
            ensure_schema(self.engine)
        except (sa.exc.SQLAlchemyError, *DRIVER_ERRORS) as exc:
            raise LogStoreDownError(type(exc).__name__) from exc
        self._schema_ready = True

    def insert(self, rows: list[LogRow]) -> None:
        """Insert one batch in one transaction through the driver's own bulk path.

        SQLAlchemy's per-row parameter processing would cost the API process more CPU than a request does.
        """
        self.ensure_schema()
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
            raise self._failed(raw, exc) from exc
        finally:
            with contextlib.suppress(Exception):
                raw.close()

    def _failed(self, raw: Any, exc: Exception) -> Exception:
        """What a failed insert means, to raise: the operator's problem, the data's, or the database down."""
        if isinstance(exc, MISSING_SCHEMA):
            self._schema_ready = False  # someone dropped a table or a column: migrate again before the next try
        if operator_error(exc) or (isinstance(exc, REFUSED) and not isinstance(exc, MISSING_SCHEMA)):
            with contextlib.suppress(Exception):
                raw.rollback()
        else:
            # most likely a dead connection: drop it from the pool rather than reset it (which fails loudly)
            with contextlib.suppress(Exception):
                raw.invalidate()
        if operator_error(exc):
            return LogStoreMisconfiguredError(_reason(exc))
        if isinstance(exc, REFUSED):
            return RecordRefusedError(_reason(exc))
        return LogStoreDownError(type(exc).__name__)

    def quarantine(self, record: bytes, reason: str, service: str | None) -> str | None:
        """Keep a refused record with its reason; its request id when it names one (for the log line).

        Raises:
            LogStoreDownError: even the quarantine cannot be written.
        """
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
            self.ensure_schema()
            with self.engine.begin() as connection:
                connection.execute(
                    PREDICTION_LOG_QUARANTINE.insert().values(
                        quarantined_at=datetime.now(UTC),
                        service=service,
                        request_id=request_id.replace("\x00", "") if request_id else None,
                        reason=reason[:500],
                        record=text[:100_000],
                    )
                )
        except (sa.exc.SQLAlchemyError, *DRIVER_ERRORS, ValueError) as exc:
            if operator_error(exc):
                raise LogStoreMisconfiguredError(_reason(exc)) from exc
            raise LogStoreDownError(type(exc).__name__) from exc
        return request_id


def sorted_records(records: list[bytes], service: str | None) -> tuple[list[LogRow], list[dict[str, Any]], list[bytes]]:
    """Journal records sorted into log rows (stamped with ``service`` where they name none), feedback, unreadable."""
    rows: list[LogRow] = []
    feedback: list[dict[str, Any]] = []
    unreadable: list[bytes] = []
    for record, value in _decoded(records):
        if isinstance(value, dict):
            feedback.append(value)
        elif isinstance(value, list) and len(value) in (len(LOG_COLUMNS) - 1, len(LOG_COLUMNS)):
            rows.append(_stamped(value, service))
        else:  # not JSON, or a row of another shape than the log's: the driver would choke on it
            unreadable.append(record)
    return rows, feedback, unreadable


def _stamped(row: list[Any], service: str | None) -> LogRow:
    if len(row) == len(LOG_COLUMNS) - 1:  # spilled by a release before the service column (revision 0003)
        row = [*row, None]
    if len(row) == len(LOG_COLUMNS) and row[-1] is None and service is not None:
        row[-1] = service
    return tuple(row)


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
    IndexError,
)
MISSING_SCHEMA: Final = (psycopg2.errors.UndefinedTable, psycopg2.errors.UndefinedColumn)
# the database answered, and no row could be written whatever it held: the role, the database or the schema is wrong
OPERATOR_ERRORS: Final = (
    psycopg2.errors.InsufficientPrivilege,
    psycopg2.errors.ReadOnlySqlTransaction,
    *MISSING_SCHEMA,
)


def operator_error(exc: BaseException) -> bool:
    """Whether ``exc`` (a driver's error, or SQLAlchemy's wrapping one) is an operator's mistake, not the data's."""
    original = getattr(exc, "orig", None) or exc
    if isinstance(original, OPERATOR_ERRORS):
        return True
    # SQLite: the file or its folder is read-only for this process ("attempt to write a readonly database")
    return isinstance(original, sqlite3.OperationalError) and "readonly" in str(original)


def _sqlite_wal(dbapi_connection: Any, connection_record: Any) -> None:
    """SQLite in WAL mode: readers never block the writer, and several workers can share the file."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
