"""What the assets tests share besides fixtures; ``conftest.py`` holds the fixtures, and no test imports it."""

from collections.abc import Mapping
from pathlib import Path

import dagster as dg

from taxi_assets.assets.features import training_set
from taxi_assets.assets.monitoring import reference_profile
from taxi_assets.assets.promotion import promotion_decision
from taxi_assets.assets.training import challenger_model
from taxi_assets.definitions import build_resources, mlflow_from_env
from taxi_assets.model.versions import CHALLENGER, CHAMPION, PREVIOUS_CHAMPION, ModelRegistry
from taxi_assets.partitions import month_service_key
from taxi_assets.resources import DataLake
from taxi_assets_tests.support import TLC_DIR

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


FAST_TRAINING = {"max_iter": 10, "max_depth": 5}


FAST_PROMOTION = {"latency_repeats": 300}


class Lifecycle(Chain):
    """A data home with green 2022-01 and 2023-01 ingested and three challengers trained.

    v1 and v2 on 2022-01 with the same config, v3 on 2023-01 (scored on its 2023 test split).
    """

    runs: dict[str, dg.ExecuteInProcessResult]
    aliases: dict[str, dict[str, str | None]]

    def train(self, months: list[str], training: dict[str, object] | None = None) -> dg.ExecuteInProcessResult:
        config = {
            "ops": {
                "training_set": {"config": {"months": months}},
                "challenger_model": {"config": {**FAST_TRAINING, **(training or {})}},
                "promotion_decision": {"config": FAST_PROMOTION},
            }
        }
        return dg.materialize(
            [training_set, reference_profile, challenger_model, promotion_decision],
            resources=build_resources(self.env),
            partition_key="green",
            instance=self.instance,
            run_config=config,
            raise_on_error=False,
        )

    def registry(self) -> ModelRegistry:
        return mlflow_from_env(self.env).registry()

    def current_aliases(self) -> dict[str, str | None]:
        registry = self.registry()
        return {alias: registry.alias("taxi-fare-green", alias) for alias in (CHAMPION, PREVIOUS_CHAMPION, CHALLENGER)}
