"""The chain zones -> raw -> features -> training set -> profile, materialized once for the asset tests."""

from collections.abc import Mapping
from pathlib import Path

import dagster as dg
import pytest

from taxi_assets.assets.features import training_set, trip_features
from taxi_assets.assets.ingestion import raw_trips, taxi_zones
from taxi_assets.assets.monitoring import reference_profile
from taxi_assets.definitions import build_resources
from taxi_assets.partitions import month_service_key
from taxi_assets.resources import DataLake
from taxi_assets_tests.conftest import TLC_DIR

JANUARY = str(month_service_key("2022-01", "green"))
WINDOW_CONFIG = {"ops": {"training_set": {"config": {"months": ["2022-01"]}}}}


def materialization_metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, object]:
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key == dg.AssetKey(asset):
            return {key: value.value for key, value in materialization.metadata.items()}
    raise AssertionError(f"{asset} was not materialized")


class Chain:
    """One data home with the chain materialized once for the module."""

    ingest: dg.ExecuteInProcessResult
    reference: dg.ExecuteInProcessResult

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {"TAXI_HOME": str(home), "TAXI_TRIPS_DIR": str(TLC_DIR)}
        self.lake = DataLake(root=str(home / "lake"))
        self.instance = dg.DagsterInstance.ephemeral()

    def materialize(
        self,
        assets: list[dg.AssetsDefinition],
        partition: str | None = None,
        config: Mapping[str, object] | None = None,
    ) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            assets,
            resources=build_resources(self.env),
            partition_key=partition,
            instance=self.instance,
            run_config=config,
            selection=assets,
        )


@pytest.fixture(scope="package")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Chain:
    chain = Chain(tmp_path_factory.mktemp("home"))
    chain.materialize([taxi_zones])
    chain.ingest = chain.materialize([raw_trips, trip_features], JANUARY)
    chain.reference = chain.materialize([training_set, reference_profile], "green", WINDOW_CONFIG)
    return chain
