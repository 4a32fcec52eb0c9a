from datetime import datetime

import pyarrow as pa
import pytest
from pyspark.sql import SparkSession

from taxi_assets.assets.features import TripFeaturesConfig
from taxi_assets.assets.ingestion import read_zone_lookup
from taxi_assets.features.columns import FEATURE_TABLE_COLUMNS, time_features
from taxi_assets.features.spark import (
    OUTLIER_RULE,
    feature_counts,
    kept_feature_rows,
    label_outliers,
    with_features,
)
from taxi_assets.ingestion.raw_schema import normalize_trip_table
from taxi_assets_tests.support import TLC_DIR

# the defaults the trip_features asset runs with
BOUNDS = TripFeaturesConfig().bounds()

# Each trip: pickup, dropoff, PU and DO LocationID, distance, fare, passengers, ratecode, payment type.
TRIPS = [
    # Monday 2022-01-03 08:15, 12.5 min, Manhattan -> Queens: rush hour
    (datetime(2022, 1, 3, 8, 15), datetime(2022, 1, 3, 8, 27, 30), 43, 138, 3.0, 14.5, 1.0, 1.0, 1.0),
    # Saturday 2022-01-08 17:00: weekend, so never rush hour; 264 and 265 are Unknown; null codes
    (datetime(2022, 1, 8, 17, 0), datetime(2022, 1, 8, 17, 30), 264, 265, 5.0, 20.0, None, None, None),
    # Friday 2022-01-07 19:59: last rush minute; Sunday 2022-01-09 23:59 below: not rush, weekend
    (datetime(2022, 1, 7, 19, 59), datetime(2022, 1, 7, 20, 9), 1, 7, 2.0, 9.0, 2.0, 2.0, 2.0),
    (datetime(2022, 1, 9, 23, 59), datetime(2022, 1, 10, 0, 19), 74, 75, 1.5, 8.0, 3.0, 5.0, 4.0),
    # Wednesday 10:00 just after the morning rush; 16:00 the start of the evening rush
    (datetime(2022, 1, 5, 10, 0), datetime(2022, 1, 5, 10, 6), 74, 75, 1.0, 6.0, 1.0, 1.0, 1.0),
    (datetime(2022, 1, 5, 16, 0), datetime(2022, 1, 5, 16, 6), 74, 75, 1.0, 6.0, 1.0, 1.0, 1.0),
]


def raw_table(trips: list[tuple[object, ...]]) -> pa.Table:
    names = ["lpep_pickup_datetime", "lpep_dropoff_datetime", "PULocationID", "DOLocationID"]
    names += ["trip_distance", "fare_amount", "passenger_count", "RatecodeID", "payment_type"]
    columns = list(zip(*trips, strict=True))
    table = pa.table(
        {
            names[0]: pa.array(columns[0], type=pa.timestamp("us")),
            names[1]: pa.array(columns[1], type=pa.timestamp("us")),
            **{name: pa.array(values, type=pa.float64()) for name, values in zip(names[2:], columns[2:], strict=True)},
        }
    )
    return normalize_trip_table(table, source="hand-made")


def featurize(spark: SparkSession, trips: list[tuple[object, ...]]) -> list[dict[str, object]]:
    raw = spark.createDataFrame(raw_table(trips).to_pandas())
    zones = spark.createDataFrame(read_zone_lookup(TLC_DIR / "taxi_zone_lookup.csv"))
    rows = with_features(raw, zones, "green", "2022-01").orderBy("trip_id").collect()
    return [row.asDict() for row in rows]


def test_feature_values_on_hand_made_rows(spark: SparkSession) -> None:
    rows = featurize(spark, TRIPS)
    monday, saturday, friday, sunday, after_rush, evening = rows
    assert monday["trip_id"] == "green-2022-01-00000000"
    assert (monday["pickup_hour"], monday["pickup_day_of_week"], monday["pickup_month"]) == (8, 0, 1)
    assert monday["trip_duration_minutes"] == pytest.approx(12.5)
    assert (monday["is_weekend"], monday["is_rush_hour"]) == (0, 1)
    assert (monday["pickup_borough"], monday["dropoff_borough"]) == ("Manhattan", "Queens")

    assert (saturday["pickup_day_of_week"], saturday["is_weekend"], saturday["is_rush_hour"]) == (5, 1, 0)
    assert (saturday["pickup_borough"], saturday["dropoff_borough"]) == ("Unknown", "Unknown")
    assert (saturday["RatecodeID"], saturday["payment_type"], saturday["passenger_count"]) == (99, 5, 1)
    assert saturday["_ratecode_unknown"]
    assert saturday["_payment_type_unknown"]

    assert (friday["pickup_day_of_week"], friday["is_rush_hour"]) == (4, 1)
    assert friday["pickup_borough"] == "EWR"
    assert (sunday["pickup_day_of_week"], sunday["is_weekend"], sunday["is_rush_hour"]) == (6, 1, 0)
    assert sunday["trip_duration_minutes"] == pytest.approx(20.0)
    assert after_rush["is_rush_hour"] == 0
    assert evening["is_rush_hour"] == 1


def test_spark_and_python_time_features_agree(spark: SparkSession) -> None:
    for trip, row in zip(TRIPS, featurize(spark, TRIPS), strict=True):
        expected = time_features(trip[0], trip[1])  # type: ignore[arg-type]
        assert {key: row[key] for key in expected} == pytest.approx(expected)


def test_outliers_are_labelled_by_the_first_rule_they_break_and_counted(spark: SparkSession) -> None:
    base = TRIPS[0]
    trips = [
        base,
        (*base[:4], 0.05, *base[5:]),  # too short
        (base[0], base[0], *base[2:]),  # zero duration: duration rule before speed
        (base[0], datetime(2022, 1, 3, 8, 16), *base[2:4], 30.0, *base[5:]),  # 1 min for 30 miles: speed
        (*base[:5], 0.5, *base[6:]),  # fare below $1
        (*base[:6], 9.0, *base[7:]),  # nine passengers
    ]
    raw = spark.createDataFrame(raw_table(trips).to_pandas())
    zones = spark.createDataFrame(read_zone_lookup(TLC_DIR / "taxi_zone_lookup.csv"))
    labelled = label_outliers(with_features(raw, zones, "green", "2022-01"), BOUNDS)
    rules = [row[OUTLIER_RULE] for row in labelled.orderBy("trip_id").collect()]
    assert rules == [None, "trip_distance", "trip_duration", "speed", "fare_amount", "passenger_count"]
    counts = feature_counts(labelled, BOUNDS)
    assert counts["rows_in"] == 6
    assert {k: v for k, v in counts.items() if k.startswith("outlier_")} == {
        "outlier_trip_distance": 1,
        "outlier_trip_duration": 1,
        "outlier_speed": 1,
        "outlier_fare_amount": 1,
        "outlier_passenger_count": 1,
    }
    kept = kept_feature_rows(labelled)
    assert tuple(kept.columns) == FEATURE_TABLE_COLUMNS
    assert kept.count() == 1
