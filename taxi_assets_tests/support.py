"""What tests share besides fixtures: where things are, the real TLC files, and skipping what this machine lacks.

Tests import these; ``conftest.py`` holds only fixtures and hooks, and no test imports it.
"""

import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TLC_DIR = (PROJECT_ROOT.parent / "shared" / "data" / "tlc").resolve()


def missing(what: str, install: str) -> NoReturn:
    """Skip a test that needs ``what``, which this machine lacks; with ``CI`` set, fail it instead.

    Off CI a developer without PostgreSQL, chromium or docker-compose still runs the rest; CI installs or starts
    all of them (``.ci/run``), so there a missing one is a broken build, never a quiet skip.
    """
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {what} is missing ({install})")
    pytest.skip(f"{what} is missing here ({install})")


def script_module(path: Path) -> ModuleType:
    """A script outside every package (``docker/deploy_secrets.py``), imported from its file."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None, path
    assert spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def needs(available: bool, what: str, install: str) -> None:
    """``missing(what, install)`` unless ``available``."""
    if not available:
        missing(what, install)


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
