"""Deterministic train/test split: a row's side depends only on its trip id and the seed."""

from __future__ import annotations

from typing import Final

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from taxi_assets.features.columns import TRIP_ID

SPLIT: Final = "split"
TRAIN: Final = "train"
TEST: Final = "test"
_BUCKETS: Final = 10_000


def assign_split(features: DataFrame, test_fraction: float, seed: int) -> DataFrame:
    """Add ``split`` ("train"/"test") from a seeded 64-bit hash of the trip id.

    The split is stable across runs, machines and Spark partitionings, and a trip never changes side when
    months are added to the window.

    Raises:
        ValueError: ``test_fraction`` is not strictly between 0 and 1.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    bucket = F.pmod(F.xxhash64(F.col(TRIP_ID), F.lit(seed)), F.lit(_BUCKETS))
    threshold = round(test_fraction * _BUCKETS)
    return features.withColumn(SPLIT, F.when(bucket < threshold, F.lit(TEST)).otherwise(F.lit(TRAIN)))
