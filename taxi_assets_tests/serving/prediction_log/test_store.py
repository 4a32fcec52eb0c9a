"""The log's database side on SQLite and PostgreSQL: inserts, refusals, feedback, the quarantine, record kinds.

Shipping is idempotent (a request id logged twice is one row), a row the database refuses raises
``RecordRefusedError`` (never a silent drop), feedback is joined once, and the quarantine keeps what was refused.
"""

import sqlite3

import msgspec
import psycopg2.errors
import pytest
import sqlalchemy as sa

from taxi_assets.platform_db.prediction_log import LOG_COLUMNS, PREDICTION_LOG, PREDICTION_LOG_QUARANTINE
from taxi_serving.prediction_log.store import LogStore, RecordRefusedError, operator_error, sorted_records
from taxi_serving.service import log_row


def row(request_id: str, prediction: float | None = 10.0, service: str | None = "green") -> tuple[object, ...]:
    return log_row(
        request_id=request_id, endpoint="/predict", status="ok", status_code=200, prediction=prediction, service=service
    )


def rows_of(url: str, table: sa.Table) -> list[dict[str, object]]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        found = [dict(r) for r in connection.execute(sa.select(table)).mappings()]
    engine.dispose()
    return found


def test_a_batch_arrives_whole_and_shipping_it_again_logs_nothing_twice(database_url: str) -> None:
    store = LogStore(database_url)
    store.insert([row("a"), row("b")])
    store.insert([row("a"), row("c")])  # a journal shipped again after a crash: request_id is unique
    assert sorted(r["request_id"] for r in rows_of(database_url, PREDICTION_LOG)) == ["a", "b", "c"]
    store.dispose()


def test_a_row_the_database_refuses_raises_with_the_reason_and_commits_nothing_of_its_batch(database_url: str) -> None:
    store = LogStore(database_url)
    broken = list(row("broken"))
    broken[LOG_COLUMNS.index("status")] = None  # NOT NULL
    with pytest.raises(RecordRefusedError):
        store.insert([row("healthy"), tuple(broken)])
    assert rows_of(database_url, PREDICTION_LOG) == []  # the writer halves the batch to find it (test_sink)
    store.insert([row("healthy")])
    assert [r["request_id"] for r in rows_of(database_url, PREDICTION_LOG)] == ["healthy"]
    store.dispose()


def test_feedback_is_joined_once_and_says_when_its_prediction_is_missing(database_url: str) -> None:
    store = LogStore(database_url)
    store.insert([row("a", prediction=11.5), row("rejected", prediction=None)])
    assert store.record_feedback("a", 12.0) == ("ok", 11.5)
    assert store.record_feedback("a", 99.0) == ("conflict", 11.5)
    assert store.record_feedback("nobody", 5.0) == ("missing", None)
    assert store.record_feedback("rejected", 5.0) == ("missing", None)  # nothing was predicted to compare with
    (logged,) = [r for r in rows_of(database_url, PREDICTION_LOG) if r["request_id"] == "a"]
    assert logged["actual_fare"] == 12.0
    store.dispose()


def test_a_quarantined_record_keeps_its_text_its_reason_and_the_request_id_it_names(database_url: str) -> None:
    store = LogStore(database_url)
    record = msgspec.json.encode(list(row("bad\x00id")))
    assert store.quarantine(record, "IntegrityError: value too long", "green") == "bad\x00id"
    assert store.quarantine(b"\xff not json", "an unreadable journal record", None) is None
    kept = sorted(rows_of(database_url, PREDICTION_LOG_QUARANTINE), key=lambda r: str(r["reason"]))
    assert [(r["reason"], r["request_id"], r["service"]) for r in kept] == [
        ("IntegrityError: value too long", "badid", "green"),
        ("an unreadable journal record", None, None),
    ]
    assert "\\u0000" in str(kept[0]["record"])  # PostgreSQL text cannot hold NUL: it is kept escaped
    store.dispose()


def test_journal_records_are_sorted_into_rows_feedback_and_the_unreadable() -> None:
    older = list(row("old", service=None))[:-1]  # a row from before the service column
    records = [
        msgspec.json.encode(list(row("a", service=None))),
        msgspec.json.encode({"feedback": "a", "actual_fare": 3.0}),
        msgspec.json.encode(older),
        b"{torn",
        msgspec.json.encode(42),
    ]
    rows, feedback, unreadable = sorted_records(records, "yellow")
    assert [r[0] for r in rows] == ["a", "old"]
    assert all(len(r) == len(LOG_COLUMNS) and r[-1] == "yellow" for r in rows)  # stamped with this API's service
    assert feedback == [{"feedback": "a", "actual_fare": 3.0}]
    assert unreadable == [b"{torn", b"42"]


def test_an_operators_mistake_is_told_from_the_datas() -> None:
    assert operator_error(sqlite3.OperationalError("attempt to write a readonly database"))
    assert not operator_error(sqlite3.OperationalError("database is locked"))
    assert not operator_error(sqlite3.IntegrityError("NOT NULL constraint failed: prediction_log.endpoint"))
    assert operator_error(psycopg2.errors.InsufficientPrivilege("permission denied for table prediction_log"))
    assert operator_error(psycopg2.errors.UndefinedTable('relation "prediction_log" does not exist'))
    assert not operator_error(psycopg2.errors.NumericValueOutOfRange("value out of range"))
