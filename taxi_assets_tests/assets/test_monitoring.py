"""reference_profile materialized for real on the green 2022-01 training split."""

import io
import json

import pandas as pd
import pytest

from taxi_assets.features.schema import read_feature_table
from taxi_assets.lake_storage import read_committed
from taxi_assets_tests.assets.support import Chain, materialization_metadata

pytestmark = pytest.mark.slow  # materializes Spark assets on real months


def test_reference_profile_is_fitted_on_the_train_split_only(chain: Chain) -> None:
    meta = materialization_metadata(chain.reference, "reference_profile")
    folder = chain.lake.profile_dir("green")
    profile = json.loads((folder / "reference_profile.json").read_text())
    _, data = read_committed(chain.lake.training_set("green"), "training_set")
    train = read_feature_table(data / "split=train")
    assert profile["rows"] == meta["rows"] == len(train)
    assert profile["months"] == ["2022-01"]
    distance = profile["numeric"]["trip_distance"]
    assert len(distance["shares"]) == 20
    assert distance["minimum"] == train["trip_distance"].min()
    assert sum(profile["categorical"]["pickup_borough"]["shares"].values()) == pytest.approx(1.0)
    sample = pd.read_csv(io.BytesIO((folder / "reference.csv").read_bytes()))
    assert len(sample) == 5_000
    assert set(sample["trip_distance"]) <= set(train["trip_distance"])
