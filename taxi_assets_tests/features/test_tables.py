"""Feature tables written to the lake by Spark: a month committed with its counts, and the train/test split of months.

Both write a new generation and commit it by its manifest; the same inputs give the same content hashes.
"""

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession

from taxi_assets.assets.features import TripFeaturesConfig
from taxi_assets.assets.ingestion import read_zone_lookup
from taxi_assets.features.schema import FeatureTableSummary, read_feature_table
from taxi_assets.features.tables import write_month_features, write_training_split
from taxi_assets.ingestion.raw_schema import read_trip_file
from taxi_assets.ingestion.raw_validation import validate_raw_trips
from taxi_assets.lake_storage import read_committed, write_parquet_atomic
from taxi_assets.resources import DataLake
from taxi_assets_tests.support import TLC_DIR

BOUNDS = TripFeaturesConfig().bounds()


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> DataLake:
    """A lake with 3,000 raw trips of green 2022-02 and the zone lookup."""
    lake = DataLake(root=str(tmp_path_factory.mktemp("lake")))
    table = read_trip_file(TLC_DIR / "green" / "green_tripdata_2022-02.parquet").slice(0, 3_000)
    raw = validate_raw_trips(table, "2022-02", pd.Timestamp("2022-02-01").date(), 1, 0.1).valid
    for location in (lake.raw("green", "2022-02"), lake.zones()):
        Path(location.path).parent.mkdir(parents=True, exist_ok=True)
    write_parquet_atomic(raw, lake.raw("green", "2022-02"))
    zones = pa.Table.from_pandas(read_zone_lookup(TLC_DIR / "taxi_zone_lookup.csv"), preserve_index=False)
    write_parquet_atomic(zones, lake.zones())
    return lake


def month(spark: SparkSession, lake: DataLake) -> tuple[dict[str, int], FeatureTableSummary]:
    raw, zones = lake.raw("green", "2022-02"), lake.zones()
    return write_month_features(spark, raw, zones, "green", "2022-02", BOUNDS, lake.features("green", "2022-02"))


def test_a_month_is_committed_with_its_counts_and_the_same_raw_trips_give_the_same_table(
    spark: SparkSession, lake: DataLake
) -> None:
    counts, summary = month(spark, lake)
    outliers = sum(n for name, n in counts.items() if name.startswith("outlier_"))
    assert counts["rows_in"] == pq.read_metadata(lake.raw("green", "2022-02").path).num_rows > 2_900
    assert summary.rows == counts["rows_in"] - outliers
    manifest, data = read_committed(lake.features("green", "2022-02"), "trip_features green 2022-02")
    assert (manifest["rows"], manifest["content_hash"]) == (summary.rows, summary.content_hash)
    assert len(read_feature_table(data)) == summary.rows
    _, again = month(spark, lake)
    assert again.content_hash == summary.content_hash
    assert lake.ingested_months("green") == ["2022-02"]


def test_the_split_of_a_month_keeps_every_row_once_and_is_seeded(spark: SparkSession, lake: DataLake) -> None:
    _, summary = month(spark, lake)
    committed = read_committed(lake.features("green", "2022-02"), "trip_features green 2022-02")
    months = {"2022-02": committed}
    split = write_training_split(spark, months, None, 0.2, 42, lake.training_set("green"), {"service": "green"})
    assert split.train.rows + split.test.rows == summary.rows
    assert 0.15 < split.test.rows / summary.rows < 0.25
    assert split.input_hashes == {"2022-02": summary.content_hash}
    manifest, _ = read_committed(lake.training_set("green"), "training_set green")
    assert (manifest["seed"], manifest["test_hash"], manifest["service"]) == (42, split.test.content_hash, "green")
    again = write_training_split(spark, months, None, 0.2, 42, lake.training_set("green"), {"service": "green"})
    assert (again.train.content_hash, again.test.content_hash) == (split.train.content_hash, split.test.content_hash)
