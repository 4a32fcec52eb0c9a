"""Real trips to replay: a seeded sample of a month the champions did not learn."""

import pandas as pd
import pytest
from pyspark.sql import SparkSession

from taxi_assets.features.schema import read_feature_table
from taxi_assets_tests.support import featurize_month
from taxi_assets_tests.tools.replay.support import ROWS
from taxi_tools.replay.client import replay_trips


@pytest.fixture(scope="module")
def february(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """A seeded sample of real green 2022-02 trips (the champion learned 2022-01), in pickup order."""
    folder = featurize_month(spark, "2022-02", tmp_path_factory.mktemp("february"))
    return replay_trips(read_feature_table(folder), ROWS, seed=5)
