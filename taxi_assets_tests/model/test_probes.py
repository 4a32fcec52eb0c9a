"""The probe trips a version is checked on, and what they say of a model that does and one that does not behave."""

import pandas as pd
import pytest

from taxi_assets.features.columns import FEATURES
from taxi_assets.model.probes import PROBE_DISTANCES_MILES, behaviour, distance_probes, probe_pickup, single_row_latency
from taxi_assets_tests.model.support import tiny_model


def test_probes_differ_only_in_distance_at_a_steady_twelve_miles_an_hour() -> None:
    probes = distance_probes("2022-03")
    assert list(probes.columns) == list(FEATURES)
    assert probes["trip_distance"].tolist() == list(PROBE_DISTANCES_MILES)
    assert probes["trip_duration_minutes"].tolist() == pytest.approx([miles * 5.0 for miles in PROBE_DISTANCES_MILES])
    same = probes.drop(columns=["trip_distance", "trip_duration_minutes"]).drop_duplicates()
    assert len(same) == 1
    assert same.iloc[0]["pickup_borough"] == "Manhattan"


def test_the_pickup_is_the_second_wednesday_afternoon_of_the_month() -> None:
    assert probe_pickup("2022-03") == pd.Timestamp("2022-03-09 14:00")
    assert probe_pickup("2023-01") == pd.Timestamp("2023-01-11 14:00")


def test_fares_that_rise_with_distance_pass_and_fares_that_fall_are_measured() -> None:
    rising = behaviour(tiny_model(1.0))
    assert (rising.largest_drop_usd, rising.deterministic, rising.passed(0.5)) == (0.0, True, True)
    assert rising.predictions[:4] == [6.5, 6.5, 6.5, 6.5]
    # the distance trees negated, above zero by 40 USD: 16 USD less from 6 to 8 miles
    falling = behaviour(tiny_model(-1.0, offset=40.0))
    assert falling.largest_drop_usd == pytest.approx(16.0)
    assert not falling.passed(0.5)


def test_latency_is_timed_for_each_model_on_the_same_rows() -> None:
    timings = single_row_latency({"a": tiny_model(1.0), "b": tiny_model(1.1)}, distance_probes(), repeats=50)
    assert set(timings) == {"a", "b"}
    assert all(0 < t.p50_ms <= t.p99_ms for t in timings.values())
