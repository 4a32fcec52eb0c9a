"""Shared fixtures: the real TLC files in ../shared/data/tlc, a local Spark session, lake folders under tmp.

Fixtures only: the helpers tests import are in ``support``, so no test module imports this one.
"""

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pyspark.sql import SparkSession

from taxi_assets.resources import LocalTripSource, spark_config
from taxi_assets_tests.postgres import fresh_database
from taxi_assets_tests.support import TLC_DIR

if TYPE_CHECKING:
    from taxi_assets_tests.champions import Trained

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
# the benchmark scripts the tests run on tiny input record their figures here, never in docs/benchmarks
os.environ["TAXI_BENCH_RECORDS"] = tempfile.mkdtemp(prefix="taxi-bench-records-")


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


@pytest.fixture
def bare_root() -> Iterator[None]:
    """The root logger without handlers for the test (an earlier test may have configured one), restored after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    root.handlers[:] = []
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.captureWarnings(False)
