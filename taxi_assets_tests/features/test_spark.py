"""The features in PySpark agree with the API's plain Python on real trips, and the outlier rules count by name."""

import pandas as pd
import pytest
from pyspark.sql import SparkSession

from taxi_assets.assets.features import TripFeaturesConfig
from taxi_assets.assets.ingestion import read_zone_lookup
from taxi_assets.features.columns import FEATURE_TABLE_COLUMNS, PICKUP_DATETIME, time_features
from taxi_assets.features.spark import OUTLIER_RULE, feature_counts, kept_feature_rows, label_outliers, with_features
from taxi_assets.ingestion.raw_schema import read_trip_file
from taxi_assets.ingestion.raw_validation import validate_raw_trips
from taxi_assets_tests.support import TLC_DIR

TIME_FEATURES = ("pickup_hour", "pickup_day_of_week", "pickup_month", "trip_duration_minutes", "is_weekend")


@pytest.fixture(scope="module")
def january(spark: SparkSession) -> pd.DataFrame:
    """Features of 2,000 real green 2022-01 trips computed by Spark, before any outlier rule, with each raw dropoff."""
    table = read_trip_file(TLC_DIR / "green" / "green_tripdata_2022-01.parquet").slice(0, 2_000)
    raw = validate_raw_trips(table, "2022-01", pd.Timestamp("2022-01-01").date(), 1, 0.1).valid.to_pandas()
    zones = spark.createDataFrame(read_zone_lookup(TLC_DIR / "taxi_zone_lookup.csv"))
    features = with_features(spark.createDataFrame(raw), zones, "green", "2022-01")
    labelled = label_outliers(features, TripFeaturesConfig().bounds()).toPandas()
    dropoffs = dict(zip(raw["source_row"], raw["dropoff_datetime"], strict=True))
    labelled["dropoff_datetime"] = [dropoffs[int(trip_id.rsplit("-", 1)[1])] for trip_id in labelled["trip_id"]]
    return labelled


def test_spark_computes_the_time_features_as_the_api_does_for_every_trip(january: pd.DataFrame) -> None:
    assert len(january) > 1_500
    for row in january.to_dict("records"):
        expected = time_features(row[PICKUP_DATETIME].to_pydatetime(), row["dropoff_datetime"].to_pydatetime())
        got = {name: row[name] for name in TIME_FEATURES}
        assert got == pytest.approx({name: expected[name] for name in TIME_FEATURES}), row["trip_id"]
        assert bool(row["is_rush_hour"]) == bool(expected["is_rush_hour"]), row["trip_id"]


def test_each_trip_has_its_own_id_and_a_borough_from_the_zone_lookup(january: pd.DataFrame) -> None:
    assert january["trip_id"].is_unique
    assert set(january["pickup_borough"]) <= {"Bronx", "Brooklyn", "Manhattan", "Queens", "Staten Island", "EWR",
                                             "Unknown", "N/A"}  # fmt: skip


def test_outliers_are_counted_by_the_first_rule_they_break_and_kept_rows_are_the_rest(
    spark: SparkSession, january: pd.DataFrame
) -> None:
    bounds = TripFeaturesConfig().bounds()
    labelled = spark.createDataFrame(january)
    counts = feature_counts(labelled, bounds)
    by_rule = january[OUTLIER_RULE].value_counts().to_dict()
    assert counts["rows_in"] == len(january)
    assert {name[len("outlier_") :]: n for name, n in counts.items() if name.startswith("outlier_") and n} == by_rule
    zero_distance = january["trip_distance"] < bounds.min_distance_miles
    assert (january.loc[zero_distance, OUTLIER_RULE] == "trip_distance").all()
    kept = kept_feature_rows(labelled.drop("dropoff_datetime")).toPandas()
    assert list(kept.columns) == list(FEATURE_TABLE_COLUMNS)
    assert len(kept) == int(january[OUTLIER_RULE].isna().sum())
