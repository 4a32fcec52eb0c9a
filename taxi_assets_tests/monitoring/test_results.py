"""A p-value test's result: drifted below its threshold, and neither drifted nor passed on an empty window."""

import math

from taxi_assets.monitoring.results import PValueTestResult


def test_drifted_only_below_the_threshold() -> None:
    assert PValueTestResult("trip_distance", 0.3, 0.001, 0.01, 500).drifted
    assert not PValueTestResult("trip_distance", 0.1, 0.01, 0.01, 500).drifted
    assert not PValueTestResult("trip_distance", 0.1, 0.5, 0.01, 500).drifted


def test_an_empty_window_is_not_drifted() -> None:
    empty = PValueTestResult("trip_distance", math.nan, math.nan, 0.01, 0)
    assert not empty.drifted
