"""The chain zones -> raw -> features -> training set -> profile, materialized once for the asset tests."""

import pytest

from taxi_assets.assets.features import training_set, trip_features
from taxi_assets.assets.ingestion import raw_trips, taxi_zones
from taxi_assets.assets.monitoring import reference_profile
from taxi_assets.partitions import month_service_key
from taxi_assets_tests.assets.support import JANUARY, WINDOW_CONFIG, Chain, Lifecycle


@pytest.fixture(scope="package")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Chain:
    chain = Chain(tmp_path_factory.mktemp("home"))
    chain.materialize([taxi_zones])
    chain.ingest = chain.materialize([raw_trips, trip_features], JANUARY)
    chain.reference = chain.materialize([training_set, reference_profile], "green", WINDOW_CONFIG)
    return chain


@pytest.fixture(scope="package")
def lifecycle(tmp_path_factory: pytest.TempPathFactory) -> Lifecycle:
    story = Lifecycle(tmp_path_factory.mktemp("lifecycle"))
    story.materialize([taxi_zones])
    for month in ("2022-01", "2023-01"):
        story.materialize([raw_trips, trip_features], str(month_service_key(month, "green")))
    story.runs, story.aliases = {}, {}
    for label, months in (("v1", ["2022-01"]), ("v2", ["2022-01"]), ("v3", ["2023-01"])):
        story.runs[label] = story.train(months)
        assert story.runs[label].success, label
        story.aliases[label] = story.current_aliases()
    return story
