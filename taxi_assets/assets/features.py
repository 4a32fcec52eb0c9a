"""Features: the 12 model features per month, the train/test split over months, and labelled traffic.

The features are computed in PySpark per month; the split is taken over a window of months. Each served request
whose true fare arrived through ``/feedback`` becomes one feature row of ``labelled_traffic`` (the request id is
its trip id, the time it was served its pickup time). The rows go through the same outlier rules and feature
schema as the TLC months; the most recent share of them is the holdout a retrained challenger and the champion
are both scored on, so promotion is judged on the traffic the model will serve next.
"""

import json
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
from pydantic import Field

from taxi_assets import constants
from taxi_assets.alerting import Kind, Severity
from taxi_assets.assets.common import failing_clearly
from taxi_assets.assets.ingestion import raw_trips, taxi_zones
from taxi_assets.errors import InvalidConfigError, MissingInputError
from taxi_assets.features.columns import OutlierBounds
from taxi_assets.features.tables import TrainingSplit, write_month_features, write_training_split
from taxi_assets.lake_storage import MANIFEST, read_committed
from taxi_assets.partitions import (
    monthly_service_partitions,
    service_partitions,
    service_to_months,
    split_month_service,
)
from taxi_assets.platform_db.prediction_log import read_labelled
from taxi_assets.resources import AlertsResource, DataLake, PlatformDatabase, SparkResource
from taxi_assets.retraining.months import MonthGuard, month_problems
from taxi_assets.retraining.traffic import TrafficSplit, kept_traffic_rows, write_traffic_split


class TripFeaturesConfig(dg.Config):
    """Bounds of the named outlier rules (inclusive); a row outside any of them is dropped and counted."""

    min_distance_miles: float = Field(default=constants.MIN_TRIP_DISTANCE_MILES, description="Shortest trip.")
    max_distance_miles: float = Field(default=constants.MAX_TRIP_DISTANCE_MILES, description="Longest trip.")
    min_duration_minutes: float = Field(default=constants.MIN_TRIP_DURATION_MINUTES, description="Shortest ride.")
    max_duration_minutes: float = Field(default=constants.MAX_TRIP_DURATION_MINUTES, description="Longest ride.")
    min_speed_mph: float = Field(default=constants.MIN_SPEED_MPH, description="Slowest average speed.")
    max_speed_mph: float = Field(default=constants.MAX_SPEED_MPH, description="Fastest average speed.")
    min_fare_usd: float = Field(default=constants.MIN_FARE_USD, description="Lowest fare kept.")
    max_fare_usd: float = Field(default=constants.MAX_FARE_USD, description="Highest fare kept.")
    min_passengers: int = Field(default=constants.MIN_PASSENGER_COUNT, description="Fewest passengers.")
    max_passengers: int = Field(default=constants.MAX_PASSENGER_COUNT, description="Most passengers.")

    def bounds(self) -> OutlierBounds:
        """The bounds as the pure feature code takes them."""
        return OutlierBounds(**{field.name: getattr(self, field.name) for field in fields(OutlierBounds)})


@dg.asset(
    partitions_def=monthly_service_partitions,
    deps=[raw_trips, taxi_zones],
    group_name=constants.FEATURES_GROUP,
    kinds={"spark", "parquet"},
    code_version="1",
)
def trip_features(
    context: dg.AssetExecutionContext,
    config: TripFeaturesConfig,
    pyspark: SparkResource,
    lake: DataLake,
) -> dg.MaterializeResult:
    """The 12 model features, the target fare_amount, the pickup time and a deterministic trip id per trip.

    Outliers are removed by named rules (distance, duration, speed, fare, passenger count) and counted per
    rule; the output is validated with the pandera feature schema before it replaces the previous version.
    """
    service, month = split_month_service(context)
    raw_path, target = lake.raw(service, month), lake.features(service, month)
    with failing_clearly():
        for needed, what in ((raw_path, f"raw_trips {service} {month}"), (lake.zones(), "taxi_zones")):
            if not needed.exists():
                raise MissingInputError(f"{what} is not materialized ({needed} is missing); materialize it first")
        counts, summary = write_month_features(
            pyspark.spark_session, raw_path, lake.zones(), service, month, config.bounds(), target
        )
    outliers = {key.removeprefix("outlier_"): value for key, value in counts.items() if key.startswith("outlier_")}
    return dg.MaterializeResult(
        metadata={
            "rows_in": counts["rows_in"],
            "rows_out": summary.rows,
            "rows_dropped_as_outliers": sum(outliers.values()),
            "outliers_by_rule": dg.MetadataValue.json(outliers),
            **{f"outlier_{rule}": count for rule, count in outliers.items()},
            "passenger_count_imputed": counts["passenger_count_imputed"],
            "ratecode_unknown": counts["ratecode_unknown"],
            "payment_type_unknown": counts["payment_type_unknown"],
            "pickup_min": summary.pickup_min,
            "pickup_max": summary.pickup_max,
            "mean_fare": summary.mean_fare,
            "content_hash": summary.content_hash,
            "path": dg.MetadataValue.path(str(target)),
        },
        data_version=dg.DataVersion(summary.content_hash[:16]),
    )


class TrainingSetConfig(dg.Config):
    """Which months form the training window, and how the split is drawn."""

    months: list[str] = Field(
        default_factory=list,
        description="Months (YYYY-MM) to train on; empty means the service's default window in constants.py.",
    )
    test_fraction: float = Field(default=constants.TEST_FRACTION, description="Share of trips held out.")
    seed: int = Field(default=constants.SPLIT_SEED, description="Seed of the trip-id hash that draws the split.")
    include_traffic: bool = Field(
        default=False,
        description="Retraining: add labelled_traffic's train rows to every row of the months, and hold out "
        "labelled_traffic's most recent rows (the test split is then production traffic, not a hash split).",
    )
    expected_months: int = Field(
        default=0, description="Retraining: how many months were asked for; fewer in ``months`` fails the guard."
    )
    min_month_rows: int = Field(
        default=constants.RETRAIN_MIN_MONTH_ROWS, description="Retraining guard: fewest trips a month may hold."
    )
    min_month_days: int = Field(
        default=constants.RETRAIN_MIN_MONTH_DAYS, description="Retraining guard: fewest distinct days with trips."
    )
    min_month_coverage: float = Field(
        default=constants.RETRAIN_MIN_MONTH_COVERAGE,
        description="Retraining guard: least share of the month's days with trips.",
    )

    def guard(self) -> MonthGuard:
        """What each retraining month must hold."""
        return MonthGuard(self.min_month_rows, self.min_month_days, self.min_month_coverage)


def guard_retraining_months(
    service: str, months: list[str], config: TrainingSetConfig, lake: DataLake, alerts: AlertsResource
) -> None:
    """Fail the retraining with a CRITICAL alert naming what is missing, unless its months can stand as months."""
    problems = []
    if len(months) < max(config.expected_months, 1):
        problems.append(f"{len(months)} complete TLC month(s) available, {max(config.expected_months, 1)} asked for")
    for month in months:
        manifest_path = lake.features(service, month) / MANIFEST
        if not manifest_path.is_file():
            problems.append(f"{month}: not in the lake (its ingestion failed or never ran)")
            continue
        problems += month_problems(month, json.loads(manifest_path.read_text()), config.guard())
    if problems:
        message = f"retraining {service} on {', '.join(months) or 'no month'} refused: {'; '.join(problems)}"
        alerts.send(Severity.CRITICAL, Kind.RETRAIN_FAILED, service, message, {"months": ",".join(months)})
        raise dg.Failure(description=message)


@dg.asset(
    partitions_def=service_partitions,
    deps=[dg.AssetDep(trip_features, partition_mapping=service_to_months), dg.AssetDep("labelled_traffic")],
    group_name=constants.FEATURES_GROUP,
    kinds={"spark", "parquet"},
    code_version="1",
)
def training_set(
    context: dg.AssetExecutionContext,
    config: TrainingSetConfig,
    pyspark: SparkResource,
    lake: DataLake,
    alerts: AlertsResource,
) -> dg.MaterializeResult:
    """A deterministic train/test split (seeded hash of the trip id) over the configured window of months.

    A retraining (``include_traffic``) first checks its months: each must be in the lake and look whole.
    """
    service = context.partition_key
    months = sorted(config.months or ([] if config.include_traffic else constants.DEFAULT_TRAINING_MONTHS[service]))
    if config.include_traffic:
        guard_retraining_months(service, months, config, lake, alerts)
    holdout = "labelled_traffic" if config.include_traffic else "hash split"
    with failing_clearly():
        committed = {
            month: read_committed(lake.features(service, month), f"trip_features {service} {month}") for month in months
        }
        traffic = (
            read_committed(lake.traffic(service), f"labelled_traffic {service}") if config.include_traffic else None
        )
        manifest = {"service": service, "months": months, "holdout": holdout}
        split = write_training_split(
            pyspark.spark_session,
            committed,
            traffic,
            config.test_fraction,
            config.seed,
            lake.training_set(service),
            manifest,
        )
    metadata = _split_metadata(split, months, config) | {"path": dg.MetadataValue.path(str(lake.training_set(service)))}
    return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(split.train.content_hash[:16]))


def _split_metadata(split: TrainingSplit, months: list[str], config: TrainingSetConfig) -> dict[str, Any]:
    train, test = split.train, split.test
    return {
        "months": dg.MetadataValue.json(months),
        "holdout": "most recent labelled traffic" if config.include_traffic else "hash split of the months",
        "rows_train": train.rows,
        "rows_test": test.rows,
        "test_fraction": config.test_fraction,
        "seed": config.seed,
        "pickup_min": min(train.pickup_min, test.pickup_min),
        "pickup_max": max(train.pickup_max, test.pickup_max),
        "input_hashes": dg.MetadataValue.json(split.input_hashes),
        "train_hash": train.content_hash,
        "test_hash": test.content_hash,
    }


class LabelledTrafficConfig(TripFeaturesConfig):
    """How much of the log is taken, how much of it is held out, and the outlier bounds of the feature code."""

    lookback_days: float = Field(
        default=constants.RETRAIN_LOOKBACK_DAYS, description="Labelled rows logged in this many days back are used."
    )
    holdout_fraction: float = Field(
        default=constants.TRAFFIC_HOLDOUT_FRACTION,
        description="The most recent share of labelled rows, held out for scoring champion and challenger.",
    )
    min_rows: int = Field(
        default=constants.MIN_LABELLED_ROWS, description="Fewest labelled rows (after outlier rules) to go on."
    )


@dg.asset(
    partitions_def=service_partitions,
    group_name=constants.FEATURES_GROUP,
    kinds={"sql", "spark", "parquet"},
    deps=["prediction_log"],
    code_version="1",
)
def labelled_traffic(
    context: dg.AssetExecutionContext,
    config: LabelledTrafficConfig,
    pyspark: SparkResource,
    lake: DataLake,
    platform_db: PlatformDatabase,
) -> dg.MaterializeResult:
    """Served requests with their true fares, as train rows and a most-recent holdout, in the feature schema."""
    service, bounds = context.partition_key, config.bounds()
    since = datetime.now(UTC) - timedelta(days=config.lookback_days)
    with failing_clearly():
        if not 0.0 < config.holdout_fraction < 1.0:
            raise InvalidConfigError(f"holdout_fraction must be between 0 and 1, got {config.holdout_fraction}")
        log = read_labelled(platform_db.url, service, since)
        if len(log) < config.min_rows:
            raise MissingInputError(
                f"labelled_traffic {service}: {len(log)} served rows with a true fare since {since:%Y-%m-%d %H:%M} "
                f"UTC in the prediction log; at least {config.min_rows} are needed"
            )
        kept, counts = kept_traffic_rows(pyspark.spark_session, log, bounds)
        if len(kept) < config.min_rows:
            raise MissingInputError(
                f"labelled_traffic {service}: {len(kept)} labelled rows since {since:%Y-%m-%d %H:%M} UTC after the "
                f"outlier rules (of {len(log)} logged with a true fare); at least {config.min_rows} are needed"
            )
        manifest = {"service": service, "since": since.isoformat(), "rows_logged": len(log), **counts}
        split = write_traffic_split(
            lake.traffic(service), kept, config.holdout_fraction, bounds, f"labelled_traffic {service}", manifest
        )
    metadata = _traffic_metadata(len(log), counts, split)
    return dg.MaterializeResult(
        metadata=metadata | {"path": dg.MetadataValue.path(str(lake.traffic(service)))},
        data_version=dg.DataVersion(split.train.content_hash[:16]),
    )


def _traffic_metadata(rows_logged: int, counts: dict[str, int], split: TrafficSplit) -> dict[str, Any]:
    outliers = {key.removeprefix("outlier_"): value for key, value in counts.items() if key.startswith("outlier_")}
    return {
        "rows_logged": rows_logged,
        "rows_dropped_as_outliers": sum(outliers.values()),
        "outliers_by_rule": dg.MetadataValue.json(outliers),
        "rows_train": split.train.rows,
        "rows_test": split.test.rows,
        "holdout_from": split.holdout_from,
        "mean_fare": split.train.mean_fare,
    }
