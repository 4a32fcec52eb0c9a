"""A feature table's schema names every rule a table breaks and in how many rows; its hash ignores row order."""

import pandas as pd
import pytest

from taxi_assets.assets.features import TripFeaturesConfig
from taxi_assets.errors import TaxiDataError
from taxi_assets.features.columns import PICKUP_DATETIME, TARGET, TRIP_ID
from taxi_assets.features.schema import content_hash, summarize_feature_table, validate_features
from taxi_assets_tests.champions import synthetic_trips

BOUNDS = TripFeaturesConfig().bounds()
INTEGERS = ("passenger_count", "pickup_hour", "pickup_day_of_week", "pickup_month", "is_weekend", "is_rush_hour",
            "RatecodeID", "payment_type")  # fmt: skip


def table(rows: int = 200) -> pd.DataFrame:
    """Feature rows in the types Spark writes: int32 codes, microsecond timestamps."""
    frame = synthetic_trips(rows, seed=4)
    frame[list(INTEGERS)] = frame[list(INTEGERS)].astype("int32")
    frame[PICKUP_DATETIME] = frame[PICKUP_DATETIME].astype("datetime64[us]")
    return frame


def test_a_table_of_valid_rows_passes() -> None:
    validate_features(table(), BOUNDS, "features/green/2022-01")


def test_every_broken_rule_is_named_with_its_row_count_and_the_table() -> None:
    broken = table()
    broken.loc[:2, "trip_distance"] = -1.0
    broken.loc[5, "pickup_borough"] = "Atlantis"
    broken.loc[7, ["is_weekend", "is_rush_hour"]] = 1
    with pytest.raises(TaxiDataError) as error:
        validate_features(broken, BOUNDS, "features/green/2022-01")
    message = str(error.value)
    assert message.startswith("features/green/2022-01: feature table fails its schema: ")
    assert "trip_distance: in_range(0.1, 100.0) (3 rows)" in message
    assert "pickup_borough: isin" in message
    # a row with both flags set contradicts its day (and perhaps its hour)
    assert "is_weekend_follows_day (1 rows)" in message
    assert "is_rush_hour_follows_day_and_hour" in message


def test_the_hash_is_the_same_for_the_same_rows_in_any_order_and_moves_with_a_value() -> None:
    frame = table()
    shuffled = frame.sample(frac=1.0, random_state=1).reset_index(drop=True)
    assert content_hash(shuffled) == content_hash(frame)
    changed = frame.copy()
    changed.loc[0, TARGET] += 0.01
    assert content_hash(changed) != content_hash(frame)


def test_the_summary_gives_rows_range_mean_fare_and_days() -> None:
    frame = table(100)
    summary = summarize_feature_table(frame)
    assert summary.rows == 100
    assert summary.mean_fare == round(float(frame[TARGET].mean()), 4)
    assert summary.pickup_min == str(frame[PICKUP_DATETIME].min())
    assert summary.days == frame[PICKUP_DATETIME].dt.normalize().nunique()
    assert summary.content_hash == content_hash(frame)
    assert frame[TRIP_ID].is_unique
