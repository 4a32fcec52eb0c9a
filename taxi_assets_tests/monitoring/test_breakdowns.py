"""What a report keeps for people to look at: distributions beside the reference, time-of-day bands, intervals."""

import pandas as pd
import pytest

from taxi_assets.model.profile import fit_reference_profile, numeric_profile
from taxi_assets.monitoring.breakdowns import bin_labels, distributions
from taxi_assets_tests.champions import synthetic_trips


def test_distributions_put_the_window_beside_the_reference_bin_for_bin() -> None:
    train = synthetic_trips(2_000, seed=0)
    profile = fit_reference_profile(train, "green", ["2022-01"], 10, 0, "test")
    window = synthetic_trips(500, seed=1)
    window.loc[:9, "pickup_borough"] = "Atlantis"
    window["prediction"] = window["fare_amount"]
    shown = distributions(profile, window, numeric_profile(train["fare_amount"].to_numpy(), 10))
    distance = shown["trip_distance"]
    assert distance.reference == profile.numeric["trip_distance"].shares
    assert distance.labels == bin_labels(profile.numeric["trip_distance"].edges)
    assert sum(distance.window) == pytest.approx(1.0)
    boroughs = dict(zip(shown["pickup_borough"].labels, shown["pickup_borough"].window, strict=True))
    assert boroughs["Atlantis"] == pytest.approx(10 / 500)
    assert dict(zip(shown["pickup_borough"].labels, shown["pickup_borough"].reference, strict=True))["Atlantis"] == 0
    assert sum(shown["prediction"].window) == pytest.approx(1.0)
    assert set(shown) >= {"payment_type", "is_weekend", "passenger_count", "prediction"}
    assert pd.Series(bin_labels([1.0, 2.5])).tolist() == ["up to 1", "1 to 2.5", "over 2.5"]


def test_the_report_draws_its_distributions_from_the_counts_its_statistics_used() -> None:
    from taxi_assets.monitoring.report import compute_drift_report

    train = synthetic_trips(2_000, seed=0)
    profile = fit_reference_profile(train, "green", ["2022-01"], 10, 0, "test")
    window = synthetic_trips(700, seed=2)
    window.loc[:20, "payment_type"] = 4.0  # a float column of whole numbers, counted under "4"
    window.loc[:5, "dropoff_borough"] = "Atlantis"
    window["prediction"] = window["fare_amount"] * 1.1
    predictions = numeric_profile(train["fare_amount"].to_numpy(), 10)
    report = compute_drift_report(profile, window, 0, prediction_reference=predictions)
    assert report.distributions == distributions(profile, window, predictions)
