"""PySpark implementation of the features in ``taxi_assets.features.columns`` and the outlier rules."""

from __future__ import annotations

from typing import Final

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from taxi_assets.features.columns import (
    DEFAULT_PASSENGER_COUNT,
    FEATURE_TABLE_COLUMNS,
    PICKUP_DATETIME,
    RUSH_HOURS,
    TARGET,
    TRIP_ID,
    UNKNOWN_BOROUGH,
    UNKNOWN_PAYMENT_TYPE,
    UNKNOWN_RATECODE,
    WEEKEND_DAYS,
    OutlierBounds,
)
from taxi_assets.features.trip_rules import speed_range, trip_rules

OUTLIER_RULE: Final = "_outlier_rule"


def outlier_rules(bounds: OutlierBounds) -> dict[str, Column]:
    """Named rules, in the order they are applied; each Column is True where the row is an outlier.

    The bounds are those of ``features.trip_rules``, the table the API's validator is generated from too.
    """
    rules = trip_rules(bounds)
    minutes = F.col("trip_duration_minutes")
    speed = F.when(minutes > 0, F.col("trip_distance") / (minutes / 60.0))
    low_speed, high_speed = speed_range(bounds)

    def outside(column: Column, name: str) -> Column:
        return ~column.between(*rules[name].span())

    return {
        "trip_distance": outside(F.col("trip_distance"), "trip_distance"),
        "trip_duration": outside(minutes, "trip_duration_minutes"),
        "speed": speed.isNull() | ~speed.between(low_speed, high_speed),
        "fare_amount": outside(F.col(TARGET), TARGET),
        "passenger_count": outside(F.col("passenger_count"), "passenger_count"),
    }


def with_features(raw: DataFrame, zones: DataFrame, service: str, month: str) -> DataFrame:
    """Add the feature columns and the trip id to canonical raw trips (no rows removed).

    Args:
        raw: canonical raw trips (``taxi_assets.ingestion.raw_schema.CANONICAL_SCHEMA``).
        zones: ``LocationID`` and ``Borough`` of the zone lookup.
        service: TLC service, part of the trip id.
        month: ``YYYY-MM`` of the source file, part of the trip id.
    """
    boroughs = F.broadcast(zones.select("LocationID", "Borough"))
    pickup = F.col(PICKUP_DATETIME)
    # Spark's dayofweek is Sunday=1 .. Saturday=7; shift to Monday=0 .. Sunday=6.
    day_of_week = (F.dayofweek(pickup) + 5) % 7
    hour = F.hour(pickup)
    rush = F.lit(False)
    for start, end in RUSH_HOURS:
        rush = rush | ((hour >= start) & (hour < end))
    weekend = day_of_week.isin(*WEEKEND_DAYS)
    return (
        raw.join(
            boroughs.withColumnsRenamed({"LocationID": "PULocationID", "Borough": "pu_b"}),
            "PULocationID",
            "left",
        )
        .join(
            boroughs.withColumnsRenamed({"LocationID": "DOLocationID", "Borough": "do_b"}),
            "DOLocationID",
            "left",
        )
        .select(
            F.concat_ws("-", F.lit(service), F.lit(month), F.lpad(F.col("source_row").cast("string"), 8, "0")).alias(
                TRIP_ID
            ),
            pickup.alias(PICKUP_DATETIME),
            F.col("trip_distance").cast("double").alias("trip_distance"),
            F.coalesce(F.col("passenger_count"), F.lit(DEFAULT_PASSENGER_COUNT)).cast("int").alias("passenger_count"),
            hour.cast("int").alias("pickup_hour"),
            day_of_week.cast("int").alias("pickup_day_of_week"),
            F.month(pickup).cast("int").alias("pickup_month"),
            (F.timestamp_diff("SECOND", pickup, F.col("dropoff_datetime")) / 60.0).alias("trip_duration_minutes"),
            weekend.cast("int").alias("is_weekend"),
            (rush & ~weekend).cast("int").alias("is_rush_hour"),
            F.coalesce(F.col("RatecodeID"), F.lit(UNKNOWN_RATECODE)).cast("int").alias("RatecodeID"),
            F.coalesce(F.col("payment_type"), F.lit(UNKNOWN_PAYMENT_TYPE)).cast("int").alias("payment_type"),
            F.coalesce(F.col("pu_b"), F.lit(UNKNOWN_BOROUGH)).alias("pickup_borough"),
            F.coalesce(F.col("do_b"), F.lit(UNKNOWN_BOROUGH)).alias("dropoff_borough"),
            F.col(TARGET).cast("double").alias(TARGET),
            F.col("passenger_count").isNull().alias("_passenger_count_imputed"),
            F.col("RatecodeID").isNull().alias("_ratecode_unknown"),
            F.col("payment_type").isNull().alias("_payment_type_unknown"),
        )
    )


def label_outliers(features: DataFrame, bounds: OutlierBounds) -> DataFrame:
    """Add ``_outlier_rule``: the first rule (in ``outlier_rules`` order) a row breaks, or null."""
    label: Column = F.lit(None).cast("string")
    for name, broken in reversed(list(outlier_rules(bounds).items())):
        label = F.when(broken, F.lit(name)).otherwise(label)
    return features.withColumn(OUTLIER_RULE, label)


def feature_counts(labelled: DataFrame, bounds: OutlierBounds) -> dict[str, int]:
    """One pass over labelled rows: rows in, rows per outlier rule, and the null replacements kept."""
    aggregates = [F.count(F.lit(1)).alias("rows_in")]
    aggregates += [
        F.sum(F.when(F.col(OUTLIER_RULE) == name, 1).otherwise(0)).alias(f"outlier_{name}")
        for name in outlier_rules(bounds)
    ]
    kept = F.col(OUTLIER_RULE).isNull()
    for flag in ("_passenger_count_imputed", "_ratecode_unknown", "_payment_type_unknown"):
        aggregates.append(F.sum(F.when(kept & F.col(flag), 1).otherwise(0)).alias(flag.lstrip("_")))
    row = labelled.agg(*aggregates).first()
    assert row is not None  # an aggregate without grouping always returns one row
    return {key: int(value or 0) for key, value in row.asDict().items()}


def kept_feature_rows(labelled: DataFrame) -> DataFrame:
    """Rows that broke no outlier rule, with only the feature table's columns."""
    return labelled.where(F.col(OUTLIER_RULE).isNull()).select(*FEATURE_TABLE_COLUMNS)
