"""Feature tables in the lake, without Dagster: one month's features, and a training split over months.

Both are written into a new generation of their lake folder, validated there with the pandera feature schema,
and committed by their manifest (``lake_storage.staged_folder``): readers see the previous table or the new one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from taxi_assets.features.columns import TRIP_ID, OutlierBounds
from taxi_assets.features.schema import (
    FeatureTableSummary,
    read_feature_table,
    summarize_feature_table,
    validate_features,
)
from taxi_assets.features.spark import feature_counts, kept_feature_rows, label_outliers, with_features
from taxi_assets.features.split import SPLIT, TEST, TRAIN, assign_split
from taxi_assets.features.trip_rules import bounds_from, bounds_record, widest
from taxi_assets.lake_storage import LakeLocation, staged_folder, write_manifest


def write_month_features(
    spark: SparkSession,
    raw: LakeLocation,
    zones: LakeLocation,
    service: str,
    month: str,
    bounds: OutlierBounds,
    target: LakeLocation,
) -> tuple[dict[str, int], FeatureTableSummary]:
    """Derive the features of one month's raw trips, drop outliers by rule, validate and commit them to ``target``.

    Returns the feature code's counts (rows in, per outlier rule, imputed and unknown codes) and the summary of
    the table written.
    """
    trips = with_features(spark.read.parquet(raw.spark_uri), spark.read.parquet(zones.spark_uri), service, month)
    labelled = label_outliers(trips, bounds).cache()
    try:
        counts = feature_counts(labelled, bounds)
        with staged_folder(target) as folder:
            kept_feature_rows(labelled).coalesce(1).write.parquet(folder.spark_uri)
            frame = read_feature_table(folder)
            validate_features(frame, bounds, source=f"trip_features {service} {month}")
            summary = summarize_feature_table(frame)
            write_manifest(
                folder,
                {"service": service, "month": month, **counts, **asdict(summary), "bounds": bounds_record(bounds)},
            )
    finally:
        labelled.unpersist()
    return counts, summary


@dataclass(frozen=True)
class TrainingSplit:
    """The two sides written and the content hashes of every input."""

    train: FeatureTableSummary
    test: FeatureTableSummary
    input_hashes: dict[str, str]


def write_training_split(
    spark: SparkSession,
    months: dict[str, tuple[dict[str, Any], LakeLocation]],
    traffic: tuple[dict[str, Any], LakeLocation] | None,
    test_fraction: float,
    seed: int,
    target: LakeLocation,
    manifest: dict[str, Any],
) -> TrainingSplit:
    """Split the committed feature tables of ``months`` and commit the split to ``target``.

    Without ``traffic`` the split is a seeded hash of the trip id. With it (a retraining), every row of the
    months trains, and so do the labelled traffic's train rows, while its most recent rows are the test split.
    ``manifest`` is committed with the split's rows, hashes and inputs added.
    """
    features = spark.read.parquet(*(data.spark_uri for _, data in months.values()))
    input_hashes = {month: committed["content_hash"] for month, (committed, _) in months.items()}
    # the rows of every input were kept by its own bounds: the split accepts what any of them accepted
    inputs = [committed for committed, _ in months.values()] + ([traffic[0]] if traffic is not None else [])
    bounds = widest([bounds_from(committed.get("bounds")) for committed in inputs])
    if traffic is None:
        split = assign_split(features, test_fraction, seed)
    else:
        traffic_manifest, traffic_data = traffic
        input_hashes["labelled_traffic"] = traffic_manifest["train_hash"] + traffic_manifest["test_hash"]
        split = features.withColumn(SPLIT, F.lit(TRAIN)).unionByName(
            spark.read.parquet(traffic_data.spark_uri).select(*features.columns, SPLIT)
        )
    with staged_folder(target) as folder:
        split.repartition(1, SPLIT).sortWithinPartitions(TRIP_ID).write.partitionBy(SPLIT).parquet(folder.spark_uri)
        train = summarize_feature_table(read_feature_table(folder / f"{SPLIT}={TRAIN}"))
        test = summarize_feature_table(read_feature_table(folder / f"{SPLIT}={TEST}"))
        write_manifest(
            folder,
            manifest
            | {
                "test_fraction": test_fraction,
                "seed": seed,
                "input_hashes": input_hashes,
                "rows_train": train.rows,
                "rows_test": test.rows,
                "train_hash": train.content_hash,
                "test_hash": test.content_hash,
                "bounds": bounds_record(bounds),
            },
        )
    return TrainingSplit(train, test, input_hashes)
