"""Retraining data from production: the labelled traffic of the prediction log as a feature table.

Each served request whose true fare arrived through ``/feedback`` becomes one feature row (the request id is
its trip id, the time it was served its pickup time). The rows go through the same outlier rules and feature
schema as the TLC months; the most recent share of them is the holdout a retrained challenger and the champion
are both scored on, so promotion is judged on the traffic the model will serve next.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import dagster as dg
from pydantic import Field

from taxi_assets import constants
from taxi_assets.assets.common import failing_clearly
from taxi_assets.assets.features import TripFeaturesConfig
from taxi_assets.lifecycle.prediction_log import read_labelled
from taxi_assets.modeling.errors import InvalidConfigError, MissingInputError
from taxi_assets.modeling.traffic import TrafficSplit, kept_traffic_rows, write_traffic_split
from taxi_assets.partitions import service_partitions
from taxi_assets.resources import DataLake, PlatformDatabase, SparkResource


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
