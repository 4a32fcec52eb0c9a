"""The train/test split: a trip's side depends on its id and the seed only, never on the other rows."""

import pytest
from pyspark.sql import SparkSession

from taxi_assets.features.columns import TRIP_ID
from taxi_assets.features.split import SPLIT, TEST, TRAIN, assign_split


def sides(spark: SparkSession, ids: list[str], fraction: float, seed: int) -> dict[str, str]:
    frame = spark.createDataFrame([(trip_id,) for trip_id in ids], [TRIP_ID])
    return {row[TRIP_ID]: row[SPLIT] for row in assign_split(frame, fraction, seed).collect()}


def test_the_split_is_stable_when_months_are_added_and_moves_with_the_seed(spark: SparkSession) -> None:
    january = [f"green-2022-01-{i:08d}" for i in range(4_000)]
    february = [f"green-2022-02-{i:08d}" for i in range(4_000)]
    alone, together = sides(spark, january, 0.2, 7), sides(spark, january + february, 0.2, 7)
    assert {trip: together[trip] for trip in january} == alone
    assert set(alone.values()) == {TRAIN, TEST}
    assert 0.18 < sum(side == TEST for side in together.values()) / len(together) < 0.22
    assert sides(spark, january, 0.2, 8) != alone


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1])
def test_a_fraction_outside_zero_to_one_is_refused_naming_it(spark: SparkSession, fraction: float) -> None:
    frame = spark.createDataFrame([("a",)], [TRIP_ID])
    with pytest.raises(ValueError, match=f"test_fraction must be between 0 and 1 \\(exclusive\\), got {fraction}"):
        assign_split(frame, fraction, 0)
