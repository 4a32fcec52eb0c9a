"""Which months a retraining takes, and the guard that refuses a month that is not whole."""

import pytest

from taxi_assets.retraining.months import MonthGuard, month_problems, months_before, newest_available


def test_the_newest_complete_months_before_the_window_oldest_first() -> None:
    assert months_before("2026-01-15", 3) == ["2025-12", "2025-11", "2025-10"]
    have = {"2022-01", "2022-02", "2022-03", "2023-01", "2023-02"}
    asked: list[str] = []

    def available(month: str) -> bool:
        asked.append(month)
        return month in have

    assert newest_available("2026-11-28", 2, available, "2022-01") == ["2023-01", "2023-02"]
    # asked newest first, and no further than needed
    assert asked[0] == "2026-10"
    assert asked[-1] == "2023-01"
    # the window's own month is never complete; nothing before the first month is asked for
    assert newest_available("2023-02-10", 5, available, "2022-02") == ["2022-02", "2022-03", "2023-01"]
    assert newest_available("2022-01-31", 2, available, "2022-01") == []


def test_a_whole_month_passes_the_guard() -> None:
    manifest = {"rows": 57_623, "days": 31, "pickup_min": "2022-01-01 00:03:00", "pickup_max": "2022-01-31 23:59:00"}
    assert month_problems("2022-01", manifest, MonthGuard()) == []


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        # the first 10,000 trips of yellow 2025-01: New Year's Eve night only
        (
            {"rows": 9_700, "days": 2, "pickup_min": "2024-12-31 23:00:00", "pickup_max": "2025-01-01 06:00:00"},
            ["2025-01: trips on 2 distinct days < 20", "2025-01: 2 of 31 days covered < 80%"],
        ),
        ({"rows": 1_200, "days": 31}, ["2025-01: 1,200 trips < 5,000"]),
        # a manifest from before the day count: the span of pickups stands in for it
        (
            {"rows": 40_000, "pickup_min": "2025-01-01 00:00:00", "pickup_max": "2025-01-10 23:00:00"},
            ["2025-01: trips on 10 distinct days < 20", "2025-01: 10 of 31 days covered < 80%"],
        ),
    ],
)
def test_a_month_that_is_not_whole_is_refused_saying_why(manifest: dict[str, object], expected: list[str]) -> None:
    assert month_problems("2025-01", manifest, MonthGuard()) == expected
