"""Labelled production traffic as a feature table, without Dagster: the rows, their outlier rules, the split.

Each served request whose true fare arrived becomes one feature row (its trip id comes from its content, the
time it was labelled is its pickup time). The rows go through the same outlier rules (Spark) and feature schema
as the TLC months; the most recent share of them is the holdout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from taxi_assets.features.columns import (
    FEATURE_TABLE_COLUMNS,
    FEATURES,
    INTEGER_FEATURES,
    PICKUP_DATETIME,
    TARGET,
    TRIP_ID,
    OutlierBounds,
)
from taxi_assets.features.schema import (
    FeatureTableSummary,
    read_feature_table,
    summarize_feature_table,
    validate_features,
)
from taxi_assets.features.spark import feature_counts, kept_feature_rows, label_outliers
from taxi_assets.features.split import SPLIT, TEST, TRAIN
from taxi_assets.features.trip_rules import bounds_record
from taxi_assets.lake_storage import LakeLocation, staged_folder, write_manifest, write_parquet_atomic
from taxi_assets.platform_db.prediction_log import LABELLED_AT

NULL_FLAGS = ("_passenger_count_imputed", "_ratecode_unknown", "_payment_type_unknown")


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


def kept_traffic_rows(
    spark: SparkSession, log: pd.DataFrame, bounds: OutlierBounds
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The labelled rows that pass the outlier rules, oldest first, and the feature code's counts per rule."""
    # served requests had no nulls to impute (the API rejects them): the feature code's flags are all false
    rows = spark.createDataFrame(traffic_features(log)).withColumns({flag: F.lit(False) for flag in NULL_FLAGS})
    labelled = label_outliers(rows, bounds).cache()
    try:
        counts = feature_counts(labelled, bounds)
        kept = kept_feature_rows(labelled).toPandas()
    finally:
        labelled.unpersist()
    kept = kept.sort_values([PICKUP_DATETIME, TRIP_ID], kind="stable").reset_index(drop=True)
    kept[PICKUP_DATETIME] = kept[PICKUP_DATETIME].astype("datetime64[us]")
    return kept, counts


@dataclass(frozen=True)
class TrafficSplit:
    """What was written: each side's summary and the time the holdout starts from."""

    train: FeatureTableSummary
    test: FeatureTableSummary
    holdout_from: str


def write_traffic_split(
    target: LakeLocation,
    kept: pd.DataFrame,
    holdout_fraction: float,
    bounds: OutlierBounds,
    source: str,
    manifest: dict[str, Any],
) -> TrafficSplit:
    """Write the oldest rows as ``split=train`` and the newest ``holdout_fraction`` as ``split=test``, validated.

    The generation is committed with ``manifest`` plus each side's rows and content hash; ``source`` names the
    output in validation errors.
    """
    first_holdout = len(kept) - max(1, round(len(kept) * holdout_fraction))
    holdout_from = str(kept[PICKUP_DATETIME].iloc[first_holdout])
    with staged_folder(target) as folder:
        summaries = {}
        for side, rows in ((TRAIN, kept.iloc[:first_holdout]), (TEST, kept.iloc[first_holdout:])):
            part = folder / f"{SPLIT}={side}"
            write_parquet_atomic(pa.Table.from_pandas(rows, preserve_index=False), part / "part-0.parquet")
            written = read_feature_table(part)
            validate_features(written, bounds, source=f"{source} ({side})")
            summaries[side] = summarize_feature_table(written)
        write_manifest(
            folder,
            manifest
            | {
                "rows_train": summaries[TRAIN].rows,
                "rows_test": summaries[TEST].rows,
                "train_hash": summaries[TRAIN].content_hash,
                "test_hash": summaries[TEST].content_hash,
                "holdout_from": holdout_from,
                "bounds": bounds_record(bounds),
            },
        )
    return TrafficSplit(summaries[TRAIN], summaries[TEST], holdout_from)
