"""The chain raw -> features -> training set materialized for real on green 2022-01 (full month)."""

import json

import dagster as dg
import pandas as pd
import pytest

from taxi_assets.assets.features import training_set, trip_features
from taxi_assets.definitions import build_resources
from taxi_assets.features.columns import FEATURE_TABLE_COLUMNS
from taxi_assets.features.schema import content_hash, read_feature_table
from taxi_assets.lake_storage import DATA_KEY, GENERATION_PREFIX, MANIFEST, read_committed, read_manifest
from taxi_assets_tests.assets.support import JANUARY, WINDOW_CONFIG, Chain, materialization_metadata

pytestmark = pytest.mark.slow  # materializes Spark assets on real months


def test_trip_features_metadata_counts_outliers_per_rule(chain: Chain) -> None:
    meta = materialization_metadata(chain.ingest, "trip_features")
    raw_meta = materialization_metadata(chain.ingest, "raw_trips")
    assert meta["rows_in"] == raw_meta["rows_valid"]
    outliers = meta["outliers_by_rule"]
    assert isinstance(outliers, dict)
    assert set(outliers) == {"trip_distance", "trip_duration", "speed", "fare_amount", "passenger_count"}
    assert meta["rows_out"] == meta["rows_in"] - sum(outliers.values())
    raw = pd.read_parquet(str(chain.lake.raw("green", "2022-01")))
    short = int((raw["trip_distance"] < 0.1).sum())
    assert outliers["trip_distance"] >= short > 0  # zero-distance trips are the first rule's largest share
    nulls = int(raw["RatecodeID"].isna().sum())
    assert 0 < meta["ratecode_unknown"] <= nulls


def test_trip_features_writes_the_feature_table_with_its_manifest(chain: Chain) -> None:
    folder = chain.lake.features("green", "2022-01")
    frame = read_feature_table(chain.lake.committed_features("green", "2022-01"))
    assert tuple(frame.columns) == FEATURE_TABLE_COLUMNS
    assert frame["trip_id"].is_unique
    assert frame["trip_id"].str.startswith("green-2022-01-").all()
    manifest = json.loads((folder / "_manifest.json").read_text())
    meta = materialization_metadata(chain.ingest, "trip_features")
    assert manifest["content_hash"] == content_hash(frame) == meta["content_hash"]
    assert 99 in set(frame["RatecodeID"])  # nulls became the unknown code, not dropped


def test_materializing_trip_features_twice_gives_identical_content(chain: Chain) -> None:
    first = materialization_metadata(chain.ingest, "trip_features")
    again = chain.materialize([trip_features], JANUARY)
    second = materialization_metadata(again, "trip_features")
    assert second["content_hash"] == first["content_hash"]
    assert content_hash(read_feature_table(chain.lake.committed_features("green", "2022-01"))) == first["content_hash"]
    folder = chain.lake.features("green", "2022-01")
    current = read_manifest(folder, "trip_features")[DATA_KEY]
    # the committed generation, the one before it for readers still on it, the manifest; no temporary files
    kept = {child.name for child in folder.children()} - {MANIFEST}
    assert current in kept
    assert all(name.startswith(GENERATION_PREFIX) for name in kept)
    assert len(kept) == 2
    assert [p.name for p in folder.parent.children() if p.name.startswith(".")] == []


def test_training_set_split_is_deterministic_and_disjoint(chain: Chain) -> None:
    meta = materialization_metadata(chain.reference, "training_set")
    _, data = read_committed(chain.lake.training_set("green"), "training_set")
    train = read_feature_table(data / "split=train")
    test = read_feature_table(data / "split=test")
    assert set(train["trip_id"]).isdisjoint(test["trip_id"])
    features = read_feature_table(chain.lake.committed_features("green", "2022-01"))
    assert len(train) + len(test) == len(features)
    assert len(test) / len(features) == pytest.approx(0.2, abs=0.01)
    assert meta["train_hash"] == content_hash(train)
    again = chain.materialize([training_set], "green", WINDOW_CONFIG)
    assert materialization_metadata(again, "training_set")["train_hash"] == meta["train_hash"]
    other_seed = {"ops": {"training_set": {"config": {"months": ["2022-01"], "seed": 43}}}}
    reseeded = chain.materialize([training_set], "green", other_seed)
    assert materialization_metadata(reseeded, "training_set")["train_hash"] != meta["train_hash"]
    chain.materialize([training_set], "green", WINDOW_CONFIG)  # leave the default split for later tests


def test_training_set_fails_clearly_for_a_month_not_materialized(chain: Chain) -> None:
    config = {"ops": {"training_set": {"config": {"months": ["2022-01", "2022-02"]}}}}
    result = dg.materialize(
        [training_set],
        resources=build_resources(chain.env),
        partition_key="green",
        run_config=config,
        raise_on_error=False,
    )
    assert not result.success
    (event,) = result.get_step_failure_events()
    assert event.step_failure_data.error is not None
    assert "trip_features green 2022-02 is not materialized" in event.step_failure_data.error.message
