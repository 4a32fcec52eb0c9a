"""Shared fixtures: the real TLC files in ../shared/data/tlc, a local Spark session, lake folders under tmp."""

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession

from taxi_assets.resources import LocalTripSource, spark_config
from taxi_assets_tests.postgres import fresh_database

if TYPE_CHECKING:
    from taxi_assets_tests.champions import Trained

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TLC_DIR = (PROJECT_ROOT.parent / "shared" / "data" / "tlc").resolve()

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


def pytest_configure(config: pytest.Config) -> None:
    if not TLC_DIR.is_dir():
        raise pytest.UsageError(f"the real TLC files are expected in {TLC_DIR} (../shared/data/tlc)")


# Fixtures whose first use costs seconds to minutes: a test that uses one, directly or through another fixture, is
# in the slow tier without saying so. Tests slow for another reason (a daemon, a server, whole months) say
# `pytestmark = pytest.mark.slow` themselves.
SLOW_FIXTURES = frozenset({"spark"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def tlc_dir() -> Path:
    return TLC_DIR


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """The same local[2] session the assets get (they call getOrCreate on the same config)."""
    builder = SparkSession.builder
    for key, value in spark_config().items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    yield session
    session.stop()


@pytest.fixture
def trips_dir(tmp_path: Path) -> Path:
    """An empty folder laid out like ../shared/data/tlc, with the real zone lookup in it."""
    folder = tmp_path / "tlc"
    folder.mkdir()
    shutil.copy(TLC_DIR / "taxi_zone_lookup.csv", folder / "taxi_zone_lookup.csv")
    return folder


@pytest.fixture
def local_source(trips_dir: Path) -> LocalTripSource:
    return LocalTripSource(root=str(trips_dir))


def real_trip_table(service: str, month: str) -> pa.Table:
    """A real TLC file exactly as published."""
    name = f"{service}_tripdata_{month}.parquet"
    path = TLC_DIR / service / name if (TLC_DIR / service / name).exists() else TLC_DIR / name
    return pq.read_table(path)


def write_trip_file(
    folder: Path,
    service: str,
    month: str,
    rows: int,
    edit: Callable[[pd.DataFrame], None] | None = None,
    source_month: str | None = None,
) -> pa.Table:
    """Write the first ``rows`` rows of a real file into ``folder`` under the TLC name, optionally edited.

    The edited frame is written back with the source file's own arrow schema, so dtypes stay as published.
    """
    table = real_trip_table(service, source_month or month).slice(0, rows)
    if edit is not None:
        frame = table.to_pandas()
        edit(frame)
        table = pa.Table.from_pandas(frame, schema=table.schema, preserve_index=False)
    pq.write_table(table, folder / f"{service}_tripdata_{month}.parquet")
    return table


def featurize_month(spark: SparkSession, month: str, folder: Path) -> Path:
    """Features of a real green month computed with the pipeline's own functions (no Dagster), as parquet."""
    from taxi_assets.assets.features import TripFeaturesConfig
    from taxi_assets.assets.ingestion import read_zone_lookup
    from taxi_assets.features.spark import kept_feature_rows, label_outliers, with_features
    from taxi_assets.ingestion.raw_schema import read_trip_file
    from taxi_assets.ingestion.raw_validation import validate_raw_trips

    table = read_trip_file(TLC_DIR / "green" / f"green_tripdata_{month}.parquet")
    valid = validate_raw_trips(table, month, pd.Timestamp(f"{month}-01").date(), 1, 0.1).valid
    raw = spark.createDataFrame(valid.to_pandas())
    zones = spark.createDataFrame(read_zone_lookup(TLC_DIR / "taxi_zone_lookup.csv"))
    bounds = TripFeaturesConfig().bounds()
    target = folder / f"features-{month}"
    kept_feature_rows(label_outliers(with_features(raw, zones, "green", month), bounds)).write.parquet(str(target))
    return target


@pytest.fixture(scope="session")
def trained(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> "Trained":
    """Two real champions for the serving and monitoring tests (``champions.py``), trained once per session."""
    from taxi_assets_tests.champions import train_champions

    return train_champions(spark, tmp_path_factory.mktemp("serving-models"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The platform database on SQLite, and on a fresh database of the local PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'platform.db'}"
    else:
        with fresh_database("platform") as url:
            yield url
