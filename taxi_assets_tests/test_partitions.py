"""Monitoring windows: lengths that tile a day, the window a moment falls in, the one that just closed."""

from datetime import UTC, datetime

import pytest

from taxi_assets.partitions import MonitoringWindows, window_cron


@pytest.mark.parametrize(
    ("minutes", "cron"),
    [
        (1, "* * * * *"),
        (5, "*/5 * * * *"),
        (30, "*/30 * * * *"),
        (60, "0 * * * *"),
        (180, "0 */3 * * *"),
        (1440, "0 0 * * *"),
    ],
)
def test_a_window_length_that_tiles_a_day_has_its_cron(minutes: int, cron: str) -> None:
    assert window_cron(minutes) == cron


@pytest.mark.parametrize("minutes", [0, 7, 45, 90, 300, 2880])
def test_a_window_length_that_does_not_tile_a_day_is_refused_naming_the_valid_ones(minutes: int) -> None:
    with pytest.raises(ValueError, match="divisor of 60") as error:
        window_cron(minutes)
    assert str(minutes) in str(error.value)


def test_windows_contain_their_moments_and_the_closed_one_is_the_one_before() -> None:
    hourly = MonitoringWindows(60)
    moment = datetime(2026, 3, 1, 13, 59, 59, tzinfo=UTC)
    assert hourly.containing(moment) == "2026-03-01-13:00"
    assert hourly.closed_before(datetime(2026, 3, 1, 14, 0, tzinfo=UTC)) == "2026-03-01-13:00"
    assert hourly.bounds("2026-03-01-13:00") == (
        datetime(2026, 3, 1, 13, tzinfo=UTC),
        datetime(2026, 3, 1, 14, tzinfo=UTC),
    )
    five = MonitoringWindows(5)
    assert five.containing(datetime(2026, 3, 1, 0, 9, 30, tzinfo=UTC)) == "2026-03-01-00:05"
    assert five.closed_before(datetime(2026, 3, 1, 0, 10, 0, tzinfo=UTC)) == "2026-03-01-00:05"
    daily = MonitoringWindows(1440)
    assert daily.containing(datetime(2026, 3, 1, 23, 59, tzinfo=UTC)) == "2026-03-01-00:00"
    # every key the schedule and the CLI compute is a partition Dagster knows
    keys = five.partitions.get_partition_keys(current_time=datetime(2026, 3, 1, 1, 0, tzinfo=UTC))
    assert "2026-03-01-00:05" in keys
    assert str(five.key("2026-03-01-00:05", "green")) == "green|2026-03-01-00:05"
