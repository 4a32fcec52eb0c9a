"""Shadow, then A/B, then champion: online_evaluation and the API following the stages, on two small models.

The models are the hand-written ensembles of ``champions.tiny_champions`` (no Spark); the true fare of each trip
is challenger "b"'s estimate plus noise, so "b" is the better model and should earn its way to champion.
"""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from litestar.testing import TestClient

from taxi_assets.assets.rollout import LIVE_SCORING, online_evaluation
from taxi_assets.definitions import build_resources, mlflow_from_env, platform_db_from_env
from taxi_assets.features.columns import FEATURES
from taxi_assets.model.fare_model import FareModel
from taxi_assets.model.versions import CHALLENGER, CHAMPION, PREVIOUS_CHAMPION
from taxi_assets.registry.rollout import SHADOW, Stage
from taxi_assets_tests.assets.support import materialization_metadata
from taxi_assets_tests.champions import register, synthetic_trips, tiny_champions
from taxi_serving.app import create_app
from taxi_serving.settings import settings_from_env

pytestmark = pytest.mark.slow  # materializes online_evaluation round after round against a real API

KEY = "stages-key"
MODEL = "taxi-fare-green"


def test_a_better_challenger_goes_through_shadow_and_ab_to_champion(tmp_path: Path) -> None:
    env = {
        "TAXI_HOME": str(tmp_path / "home"),
        "TAXI_ROLLOUT_STAGES": "green:shadow,ab",
        "TAXI_ROLLOUT_AB_SHARE": "0.5",
        "TAXI_API_KEYS": KEY,
    }
    registry = mlflow_from_env(env).registry()
    trained = tiny_champions(tmp_path / "models")
    champion, challenger = register(registry, trained, "a", CHAMPION), register(registry, trained, "b", CHALLENGER)
    started = datetime.now(UTC) - timedelta(seconds=1)
    registry.tag_version(MODEL, challenger, Stage(SHADOW, challenger, champion, started).tags())
    trips = synthetic_trips(8_000, seed=5)
    rng = np.random.default_rng(5)
    fares = FareModel.load(trained.serving_dirs["b"]).predict(trips) + rng.normal(0, 1.0, len(trips))
    instance = dg.DagsterInstance.ephemeral()

    def evaluate() -> dg.ExecuteInProcessResult:
        return dg.materialize([online_evaluation], resources=build_resources(env), partition_key="green",
                              instance=instance)  # fmt: skip

    def replay(client: TestClient, rows: pd.DataFrame, offset: int) -> list[str]:  # type: ignore[type-arg]
        arms, answered = [], []
        for index, record in enumerate(rows[list(FEATURES)].to_dict("records")):
            body = {k: (v.item() if hasattr(v, "item") else v) for k, v in record.items()} | {"client_id": f"c{index}"}
            response = client.post("/predict", json=body, headers={"X-API-Key": KEY})
            if response.status_code == 422:  # outside the champion's valid ranges: rejected, never scored
                continue
            assert response.status_code == 200, response.text
            answer = response.json()
            arms.append(answer["arm"])
            answered.append((answer["request_id"], float(fares[offset + index])))
        assert client.app.state.serving.sink.flush()
        for request_id, fare in answered:
            feedback = {"request_id": request_id, "actual_fare": fare}
            assert client.post("/feedback", json=feedback, headers={"X-API-Key": KEY}).status_code == 200
        return arms

    # an API that ignores the stage: the challenger is not scored, and the check on the stage says so
    ignoring = replace(settings_from_env(env), follow_rollout=False)
    with TestClient(create_app(ignoring)) as client:
        replay(client, trips.iloc[:100], 0)
    (scoring,) = [e for e in evaluate().get_asset_check_evaluations() if e.check_name == LIVE_SCORING]
    assert not scoring.passed
    assert (scoring.metadata["champion_requests"].value, scoring.metadata["challenger_requests"].value) == (100, 0)

    steps, split = [], []
    with TestClient(create_app(settings_from_env(env))) as client:
        offset = 100
        while offset < len(trips) and (not steps or steps[-1] != "promote"):
            arms = replay(client, trips.iloc[offset : offset + 250], offset)
            offset += 250
            metadata = materialization_metadata(evaluate(), "online_evaluation")
            if metadata["stage"] == "ab":
                split += arms
            if metadata["step"] != "continue":
                steps.append(str(metadata["step"]))
                client.app.state.serving.store.refresh()
    assert steps == ["advance", "promote"]
    # in A/B the challenger answered about its share of the clients
    assert 0.4 < split.count("challenger") / len(split) < 0.6
    store = platform_db_from_env(env).decisions()
    history = store.history("green")
    store.dispose()
    assert [(d.action, d.challenger_version) for d in history] == [("ab", challenger), ("promote", challenger)]
    assert history[1].rules["live"]["stage"] == "ab"
    # the A/B test pairs the arms' labels in arrival order: it used at most the smaller arm's
    arms = history[1].champion_metrics["labels"], history[1].challenger_metrics["labels"]
    assert 200 <= history[1].rules["live"]["labels"] <= min(arms)
    aliases = {alias: registry.alias(MODEL, alias) for alias in (CHAMPION, PREVIOUS_CHAMPION, CHALLENGER)}
    assert aliases == {CHAMPION: challenger, PREVIOUS_CHAMPION: champion, CHALLENGER: champion}
    assert registry.version_tags(MODEL, champion)["rollout.stage"] == "guardrail"
