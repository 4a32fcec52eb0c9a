"""Retraining data from production: the labelled traffic of the prediction log as a feature table.

Each served request whose true fare arrived through ``/feedback`` becomes one feature row (the request id is
its trip id, the time it was served its pickup time). The rows go through the same outlier rules and feature
schema as the TLC months; the most recent share of them is the holdout a retrained challenger and the champion
are both scored on, so promotion is judged on the traffic the model will serve next.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd
import pyarrow as pa
from pydantic import Field
from pyspark.sql import functions as F

from taxi_assets import constants
from taxi_assets.assets.common import failing_clearly
from taxi_assets.assets.features import TripFeaturesConfig
from taxi_assets.lakefs import staged_folder, write_manifest, write_parquet_atomic
from taxi_assets.lifecycle.prediction_log import LABELLED_AT, read_labelled
from taxi_assets.modeling.errors import InvalidConfigError, MissingInputError
from taxi_assets.modeling.feature_schema import read_feature_table, summarize_feature_table, validate_features
from taxi_assets.modeling.features import (
    FEATURE_TABLE_COLUMNS,
    FEATURES,
    INTEGER_FEATURES,
    PICKUP_DATETIME,
    TARGET,
    TRIP_ID,
)
from taxi_assets.modeling.spark_features import feature_counts, kept_feature_rows, label_outliers
from taxi_assets.modeling.split import SPLIT, TEST, TRAIN
from taxi_assets.partitions import service_partitions
from taxi_assets.resources import DataLake, PlatformDatabase, SparkResource

NULL_FLAGS = ("_passenger_count_imputed", "_ratecode_unknown", "_payment_type_unknown")


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


def traffic_features(log: pd.DataFrame) -> pd.DataFrame:
    """Labelled log rows in the feature table's columns (before the outlier rules), oldest first."""
    frame = log.rename(columns={LABELLED_AT: PICKUP_DATETIME, "actual_fare": TARGET})
    for name in INTEGER_FEATURES:
        frame[name] = frame[name].astype("int32")
    # the trip id comes from the trip's content (features and fare), not the random request id, so the same
    # labelled trips give the same training set, row order and model; repeats of a trip are numbered
    content = pd.util.hash_pandas_object(frame[[*FEATURES, TARGET]], index=False).map("{:016x}".format)
    repeat = content.groupby(content).cumcount().astype(str)
    frame[TRIP_ID] = "traffic-" + content + "-" + repeat
    return frame[list(FEATURE_TABLE_COLUMNS)]


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
    service = context.partition_key
    bounds = config.bounds()
    since = datetime.now(UTC) - timedelta(days=config.lookback_days)
    target = lake.traffic(service)
    spark = pyspark.spark_session
    with failing_clearly():
        if not 0.0 < config.holdout_fraction < 1.0:
            raise InvalidConfigError(f"holdout_fraction must be between 0 and 1, got {config.holdout_fraction}")
        log = read_labelled(platform_db.url, service, since)
        if len(log) < config.min_rows:
            raise MissingInputError(
                f"labelled_traffic {service}: {len(log)} served rows with a true fare since {since:%Y-%m-%d %H:%M} "
                f"UTC in the prediction log; at least {config.min_rows} are needed"
            )
        # served requests had no nulls to impute (the API rejects them): the feature code's flags are all false
        rows = spark.createDataFrame(traffic_features(log)).withColumns({flag: F.lit(False) for flag in NULL_FLAGS})
        labelled = label_outliers(rows, bounds).cache()
        try:
            counts = feature_counts(labelled, bounds)
            kept = kept_feature_rows(labelled).toPandas()
        finally:
            labelled.unpersist()
        if len(kept) < config.min_rows:
            raise MissingInputError(
                f"labelled_traffic {service}: {len(kept)} labelled rows since {since:%Y-%m-%d %H:%M} UTC after the "
                f"outlier rules (of {len(log)} logged with a true fare); at least {config.min_rows} are needed"
            )
        kept = kept.sort_values([PICKUP_DATETIME, TRIP_ID], kind="stable").reset_index(drop=True)
        kept[PICKUP_DATETIME] = kept[PICKUP_DATETIME].astype("datetime64[us]")
        first_holdout = len(kept) - max(1, round(len(kept) * config.holdout_fraction))
        with staged_folder(target) as folder:
            summaries = {}
            for side, rows in ((TRAIN, kept.iloc[:first_holdout]), (TEST, kept.iloc[first_holdout:])):
                part = folder / f"{SPLIT}={side}"
                write_parquet_atomic(pa.Table.from_pandas(rows, preserve_index=False), part / "part-0.parquet")
                written = read_feature_table(part)
                validate_features(written, bounds, source=f"labelled_traffic {service} ({side})")
                summaries[side] = summarize_feature_table(written)
            write_manifest(
                folder,
                {
                    "service": service,
                    "since": since.isoformat(),
                    "rows_logged": len(log),
                    **counts,
                    "rows_train": summaries[TRAIN].rows,
                    "rows_test": summaries[TEST].rows,
                    "train_hash": summaries[TRAIN].content_hash,
                    "test_hash": summaries[TEST].content_hash,
                    "holdout_from": str(kept[PICKUP_DATETIME].iloc[first_holdout]),
                },
            )
    outliers = {key.removeprefix("outlier_"): value for key, value in counts.items() if key.startswith("outlier_")}
    return dg.MaterializeResult(
        metadata={
            "rows_logged": len(log),
            "rows_dropped_as_outliers": sum(outliers.values()),
            "outliers_by_rule": dg.MetadataValue.json(outliers),
            "rows_train": summaries[TRAIN].rows,
            "rows_test": summaries[TEST].rows,
            "holdout_from": str(kept[PICKUP_DATETIME].iloc[first_holdout]),
            "mean_fare": summaries[TRAIN].mean_fare,
            "path": dg.MetadataValue.path(str(target)),
        },
        data_version=dg.DataVersion(summaries[TRAIN].content_hash[:16]),
    )
