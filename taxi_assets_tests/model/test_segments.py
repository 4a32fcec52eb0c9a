"""The segments a model is held to account for: time-of-day and distance bands, and every column coded at once."""

import numpy as np
import pandas as pd
import pytest

from taxi_assets.model.segments import (
    DISTANCE_BAND,
    DISTANCE_KEYS,
    FAIRNESS_SEGMENTS,
    TIME_OF_DAY,
    TIME_OF_DAY_BANDS,
    distance_codes,
    segment_accuracy,
    segment_codes,
    time_of_day_band,
)
from taxi_assets_tests.champions import synthetic_trips


def test_every_hour_is_in_exactly_one_band_and_others_are_unknown() -> None:
    bands = time_of_day_band(np.array([*range(24), np.nan, 24, -1]))
    assert set(bands[:24]) == {name for _, _, name in TIME_OF_DAY_BANDS}
    assert list(bands[[0, 5, 6, 9, 10, 16, 23]]) == [
        "night 0-5h",
        "night 0-5h",
        "morning rush 6-9h",
        "morning rush 6-9h",
        "midday 10-15h",
        "evening rush 16-19h",
        "evening 20-23h",
    ]
    assert list(bands[24:]) == ["unknown"] * 3


def test_fractional_hours_fall_in_a_band_only_up_to_its_last_hour() -> None:
    bands = time_of_day_band(np.array([7.5, 9.0, 9.5, 23.0, 23.5, 0.0, 5.99]))
    assert list(bands) == [
        "morning rush 6-9h",
        "morning rush 6-9h",
        "unknown",
        "evening 20-23h",
        "unknown",
        "night 0-5h",
        "unknown",
    ]


def test_distance_bands_hold_their_lower_edge_and_leave_nonsense_unknown() -> None:
    miles = np.array([0.0, 0.99, 1.0, 2.9, 3.0, 7.0, 14.99, 15.0, 400.0, np.nan, -1.0, np.inf])
    named = [DISTANCE_KEYS[code] for code in distance_codes(miles)]
    assert named == [
        "under 1 mi",
        "under 1 mi",
        "1-3 mi",
        "1-3 mi",
        "3-7 mi",
        "7-15 mi",
        "7-15 mi",
        "15 mi and over",
        "15 mi and over",
        "unknown",
        "unknown",
        "unknown",
    ]
    assert [DISTANCE_KEYS[code] for code in distance_codes(np.array(["2.5", "x"], dtype=object))] == [
        "1-3 mi",
        "unknown",
    ]


def test_segment_codes_names_each_row_in_every_column_and_skips_columns_it_cannot_make() -> None:
    rows = synthetic_trips(300, seed=4)
    coded = segment_codes(rows)
    assert list(coded) == list(FAIRNESS_SEGMENTS)
    for column, (codes, keys) in coded.items():
        assert len(codes) == len(rows)
        assert codes.min() >= 0, column
        assert max(codes) < len(keys), column
    codes, keys = coded["pickup_borough"]
    assert [keys[c] for c in codes[:20]] == rows["pickup_borough"].head(20).tolist()
    codes, keys = coded["payment_type"]
    assert [keys[c] for c in codes[:20]] == [str(v) for v in rows["payment_type"].head(20)]
    partial = segment_codes(pd.DataFrame({"trip_distance": [1.5], "payment_type": [2]}))
    assert list(partial) == ["payment_type", DISTANCE_BAND]
    assert TIME_OF_DAY not in partial


def test_the_mae_interval_covers_the_mean_of_absolute_errors_as_a_normal_interval_would() -> None:
    rng = np.random.default_rng(0)
    error = rng.normal(0, 2.0, 400)
    (only,) = segment_accuracy(np.array(["a"] * 400), np.zeros(400), error).values()
    absolute = np.abs(error)
    half = 1.959964 * absolute.std(ddof=1) / np.sqrt(400)
    assert only.mae == pytest.approx(absolute.mean())
    assert (only.mae_low, only.mae_high) == pytest.approx((absolute.mean() - half, absolute.mean() + half))
    (single,) = segment_accuracy(np.array(["b"]), np.zeros(1), np.ones(1)).values()
    assert np.isnan(single.mae_low)
    assert np.isnan(single.mae_high)
