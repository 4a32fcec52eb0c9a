import numpy as np
import pandas as pd
import pytest

from taxi_assets.model.profile import fit_reference_profile, numeric_profile, reference_sample
from taxi_assets.monitoring.report import compute_drift_report, not_counted_for
from taxi_assets_tests.monitoring.frames import synthetic_train

TRAIN = synthetic_train(40_000, seed=1)
PROFILE = fit_reference_profile(TRAIN, "green", ["2022-01"], 20, 7, "hash")
SAMPLE = reference_sample(TRAIN, 5_000, seed=7)


def window(rows: int, seed: int) -> pd.DataFrame:
    frame = synthetic_train(rows, seed=seed)
    # the log stores features as floats: categories must still match the profile's "1", "2", ...
    for column in ("RatecodeID", "payment_type", "passenger_count"):
        frame[column] = frame[column].astype("float64")
    frame["prediction"] = frame["fare_amount"] + 0.5
    frame["actual_fare"] = frame["fare_amount"]
    return frame


def test_a_window_from_the_same_distribution_drifts_nowhere() -> None:
    report = compute_drift_report(PROFILE, window(10_000, seed=2), rejected=0, reference_sample=SAMPLE)
    assert report.drifted_features() == []
    name, largest = report.largest_psi()
    assert largest < 0.02, name
    assert all(not result.new_categories for result in report.divergence.values())
    assert report.ks["trip_distance"].p_value > 0.001


def test_shifted_distance_and_a_new_borough_are_named() -> None:
    shifted = window(10_000, seed=3)
    shifted["trip_distance"] *= 1.6
    shifted.loc[: len(shifted) // 2, "pickup_borough"] = "Atlantis"
    report = compute_drift_report(PROFILE, shifted, rejected=0, reference_sample=SAMPLE)
    assert set(report.drifted_features()) >= {"trip_distance", "pickup_borough"}
    assert report.divergence["pickup_borough"].new_categories == ("Atlantis",)
    assert report.psi["trip_distance"].value > 0.2
    assert "trip_duration_minutes" not in report.drifted_features()


def test_calendar_drift_is_reported_but_not_counted() -> None:
    later = window(10_000, seed=4)
    later["pickup_month"] = 7
    report = compute_drift_report(PROFILE, later, rejected=0)
    assert report.psi["pickup_month"].drifted
    assert "pickup_month" not in report.drifted_features()
    assert "(not counted)" in report.to_markdown()


def test_accuracy_on_matured_labels_overall_and_per_segment() -> None:
    frame = window(2_000, seed=5)
    frame.loc[frame.index[1_000:], "actual_fare"] = np.nan  # half the labels have not arrived
    report = compute_drift_report(PROFILE, frame, rejected=0)
    assert report.labelled_rows == 1_000
    assert report.accuracy.rmse == pytest.approx(0.5)
    assert report.accuracy.bias == pytest.approx(0.5)
    manhattan = report.accuracy_by_segment["pickup_borough"]["Manhattan"]
    assert manhattan.rmse == pytest.approx(0.5)
    assert set(report.accuracy_by_segment["payment_type"]) == {"1", "2"}


def test_prediction_drift_uses_the_reference_prediction_bins() -> None:
    reference_predictions = numeric_profile(TRAIN["fare_amount"].to_numpy() + 0.5, 20)
    same = compute_drift_report(PROFILE, window(10_000, seed=6), 0, prediction_reference=reference_predictions)
    assert same.prediction is not None
    assert same.prediction.value < 0.02
    higher = window(10_000, seed=6)
    higher["prediction"] *= 1.4
    moved = compute_drift_report(PROFILE, higher, 0, prediction_reference=reference_predictions)
    assert moved.prediction is not None
    assert moved.prediction.drifted


def test_an_empty_window_is_nan_everywhere_never_a_silent_pass() -> None:
    empty = window(10, seed=7).iloc[:0]
    report = compute_drift_report(PROFILE, empty, rejected=3)
    assert all(np.isnan(result.value) for result in report.psi.values())
    assert all(not result.judged for result in report.psi.values())
    assert np.isnan(report.accuracy.rmse)
    assert report.validation_failure_rate == 1.0
    assert report.largest_psi()[0] == ""


def test_an_hour_of_live_traffic_does_not_drift_on_its_clock_but_still_on_its_trips() -> None:
    # one real hour: every trip at 13:00 on a Tuesday, against a reference of whole months
    hour = window(2_000, seed=5)
    hour["pickup_hour"], hour["pickup_day_of_week"], hour["is_weekend"], hour["is_rush_hour"] = 13.0, 1.0, 0, 0
    counted_all = compute_drift_report(PROFILE, hour, rejected=0, not_counted=not_counted_for(7 * 24 * 60))
    assert {"pickup_hour", "pickup_day_of_week"} <= set(counted_all.drifted_features())
    hourly = compute_drift_report(PROFILE, hour, rejected=0, not_counted=not_counted_for(60))
    assert hourly.drifted_features() == []
    assert hourly.psi["pickup_hour"].drifted  # still measured and reported, just not counted
    # a real change of the trips in that hour is still caught
    hour["trip_distance"] *= 1.8
    assert "trip_distance" in compute_drift_report(PROFILE, hour, 0, not_counted=not_counted_for(60)).drifted_features()


def test_which_calendar_features_a_window_can_count() -> None:
    assert not_counted_for(60) == ("pickup_month", "pickup_day_of_week", "is_weekend", "is_rush_hour", "pickup_hour")
    assert not_counted_for(24 * 60) == ("pickup_month", "pickup_day_of_week", "is_weekend", "is_rush_hour")
    assert not_counted_for(7 * 24 * 60) == ("pickup_month",)


def test_accuracy_is_judged_on_the_labelled_rows_given_not_the_windows_own() -> None:
    recent = window(2_000, seed=6)
    recent["actual_fare"] = np.nan  # none of the window's own fares has arrived yet
    trailing = window(3_000, seed=7)
    trailing["actual_fare"] = trailing["prediction"] + 2.0
    report = compute_drift_report(PROFILE, recent, rejected=0, labelled=trailing)
    assert report.rows == 2_000
    assert report.labelled_rows == 3_000
    assert report.accuracy.mae == pytest.approx(2.0)
    assert compute_drift_report(PROFILE, recent, rejected=0).labelled_rows == 0
