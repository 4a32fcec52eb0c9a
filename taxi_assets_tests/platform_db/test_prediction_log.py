"""The prediction log's readers on both databases: a window's served rows and rejections, labelled rows, activity.

Rows go in as the API writes them (``log_row`` through the log store), so the times are stored as the API
stores them; every reader leaves out shadow scores, other services and rows outside its interval.
"""

from datetime import UTC, datetime

from taxi_assets.platform_db.prediction_log import (
    CHAMPION_ARM,
    SHADOW_ARM,
    SHADOW_SUFFIX,
    log_activity,
    read_labelled,
    read_window,
)
from taxi_serving.prediction_log.store import LogStore
from taxi_serving.service import log_row

START, END = datetime(2026, 3, 2, 10, 0, tzinfo=UTC), datetime(2026, 3, 2, 11, 0, tzinfo=UTC)


def at(minutes: int) -> str:
    """A time ``minutes`` after 10:00, as the API writes it."""
    hour, minute = divmod(600 + minutes, 60)
    return f"2026-03-02 {hour:02d}:{minute:02d}:00.000000+00:00"


def fill(url: str) -> None:
    def row(request_id: str, minutes: int, **kw: object) -> tuple[object, ...]:
        defaults: dict[str, object] = {"endpoint": "/predict", "status": "ok", "status_code": 200}
        defaults |= {"arm": CHAMPION_ARM, "model_version": "1", "prediction": 10.0, "service": "green"}
        return log_row(request_id=request_id, logged_at=at(minutes), **(defaults | kw))

    store = LogStore(url)
    store.ensure_schema()
    store.insert(
        [
            row("a", 5),
            row("b", 10),
            row("a" + SHADOW_SUFFIX, 5, arm=SHADOW_ARM, model_version="2"),
            row("rejected", 20, status="rejected", status_code=422, arm=None, prediction=None),
            row("at-end", 60),
            row("yellow", 30, service="yellow"),
            row("before", -1),
        ]
    )
    for request_id, fare in (("a", 12.0), ("a" + SHADOW_SUFFIX, 12.0), ("at-end", 9.0), ("before", 7.5)):
        assert store.record_feedback(request_id, fare)[0] == "ok"
    store.dispose()


def test_a_window_holds_its_served_rows_and_counts_its_rejections(database_url: str) -> None:
    fill(database_url)
    window = read_window(database_url, START, END, "green")
    assert sorted(window.served["request_id"]) == ["a", "b"]
    assert window.rejected == 1
    assert read_window(database_url, START, END, "yellow").served["request_id"].tolist() == ["yellow"]


def test_labelled_rows_are_the_served_ones_with_a_fare_oldest_first(database_url: str) -> None:
    fill(database_url)
    since_start = read_labelled(database_url, "green", START)
    assert since_start["request_id"].tolist() == ["a", "at-end"]
    assert since_start["actual_fare"].tolist() == [12.0, 9.0]
    earlier = read_labelled(database_url, "green", datetime(2026, 3, 2, 9, 0, tzinfo=UTC), END)
    assert earlier["request_id"].tolist() == ["before", "a"]
    assert str(earlier["logged_at"].iloc[1]) == "2026-03-02 10:05:00"  # UTC, naive


def test_activity_counts_every_row_of_each_service_and_its_newest_time(database_url: str) -> None:
    fill(database_url)
    activity = log_activity(database_url, START)
    assert activity.rows == {"green": 5, "yellow": 1}  # served, shadow and rejected alike
    assert activity.newest["green"] == END
    assert activity.data_version == "green:5@2026-03-02T11:00:00+00:00;yellow:1@2026-03-02T10:30:00+00:00"
    assert log_activity(database_url, END, END).data_version == "empty"
