"""Feedback whose prediction is not in the database yet: deferred in the worker's folder, retried, or quarantined.

``DeferredFeedback`` takes two callables (join a fare, quarantine a record), so its rules are tested here with
plain functions standing in for the database: what a join answers decides what happens to the record.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from taxi_serving.prediction_log.deferred import DEFERRED, DeferredFeedback, now_text
from taxi_serving.prediction_log.journal import JournalFolder
from taxi_serving.prediction_log.store import LogStoreDownError


class Database:
    """Which predictions are logged, which fares were joined, and what was quarantined."""

    def __init__(self, logged: set[str]) -> None:
        self.logged = logged
        self.fares: dict[str, float] = {}
        self.quarantined: list[tuple[bytes, str]] = []
        self.down = False

    def record(self, request_id: str, fare: float) -> str:
        if self.down:
            raise LogStoreDownError("connection refused")
        if request_id not in self.logged:
            return "missing"
        if request_id in self.fares:
            return "conflict"
        self.fares[request_id] = fare
        return "ok"

    def quarantine(self, record: bytes, reason: str) -> None:
        self.quarantined.append((record, reason))


def deferred(tmp_path: Path, database: Database, wait_seconds: float = 3600.0) -> DeferredFeedback:
    return DeferredFeedback(tmp_path, database.record, database.quarantine, wait_seconds)


def item(request_id: str, fare: float, at: str | None = None) -> dict[str, object]:
    return {"feedback": request_id, "actual_fare": fare, "at": at or now_text()}


def test_a_fare_whose_prediction_is_logged_is_joined_at_once(tmp_path: Path) -> None:
    database = Database({"a"})
    queue = deferred(tmp_path, database)
    assert queue.apply(item("a", 12.5)) is True
    assert database.fares == {"a": 12.5}
    assert not queue.waiting()


def test_a_fare_before_its_prediction_waits_and_is_joined_once_the_prediction_arrives(tmp_path: Path) -> None:
    database = Database(set())
    queue = deferred(tmp_path, database)
    assert queue.apply(item("late", 9.0)) is False
    assert queue.waiting()
    assert queue.retry() == 0  # still no prediction: it keeps waiting
    assert queue.waiting()
    database.logged.add("late")
    assert queue.retry() == 1
    assert database.fares == {"late": 9.0}
    assert not queue.waiting()


def test_a_repeated_fare_does_not_replace_the_first(tmp_path: Path) -> None:
    database = Database({"a"})
    queue = deferred(tmp_path, database)
    assert queue.apply(item("a", 10.0)) is True
    assert queue.apply(item("a", 99.0)) is False
    assert database.fares == {"a": 10.0}
    assert database.quarantined == []


def test_what_waited_longer_than_the_wait_is_quarantined_with_its_reason(tmp_path: Path) -> None:
    database = Database(set())
    queue = deferred(tmp_path, database, wait_seconds=60.0)
    old = (datetime.now(UTC) - timedelta(seconds=120)).strftime("%Y-%m-%d %H:%M:%S.%f+00:00")
    queue.apply(item("gone", 5.0, at=old))
    queue.apply(item("recent", 6.0))
    assert queue.retry() == 0
    assert [reason for _, reason in database.quarantined] == ["feedback whose prediction never reached the log"]
    assert msgspec.json.decode(database.quarantined[0][0])["feedback"] == "gone"
    assert [msgspec.json.decode(line)["feedback"] for line in queue.path.read_bytes().splitlines()] == ["recent"]


@pytest.mark.parametrize(
    "record",
    [{"feedback": 7, "actual_fare": 1.0}, {"feedback": "a", "actual_fare": True}, {"actual_fare": 3.0}],
)
def test_a_record_without_a_request_id_or_a_fare_is_quarantined_not_retried(
    tmp_path: Path, record: dict[str, object]
) -> None:
    database = Database({"a"})
    queue = deferred(tmp_path, database)
    assert queue.apply(record) is False
    assert [reason for _, reason in database.quarantined] == ["a feedback record without request_id or fare"]
    assert not queue.waiting()


def test_while_the_database_is_down_the_file_stays_whole(tmp_path: Path) -> None:
    database = Database(set())
    queue = deferred(tmp_path, database)
    queue.apply(item("x", 1.0))
    queue.apply(item("y", 2.0))
    before = queue.path.read_bytes()
    database.down = True
    assert queue.retry() == 0
    assert queue.path.read_bytes() == before


def test_an_adopted_folders_deferred_feedback_becomes_this_workers(tmp_path: Path) -> None:
    dead = tmp_path / "dead-worker"
    dead.mkdir()
    (dead / DEFERRED).write_bytes(msgspec.json.encode(item("orphan", 4.0)) + b"\n")
    own = tmp_path / "own"
    own.mkdir()
    database = Database({"orphan"})
    queue = deferred(own, database)
    queue.take(JournalFolder(dead))
    assert queue.retry() == 1
    assert database.fares == {"orphan": 4.0}
