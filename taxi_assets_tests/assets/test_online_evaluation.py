"""Champion and challenger judged on live traffic, end to end on real months.

A 2022 champion (green 2022-01) serves through the real API. Challengers enter shadow through promotion_decision's
offline rules, the API scores them on every request as their version's stage tag asks, trips of green 2023-02
are replayed through it with their true fares arriving a round later, and online_evaluation is materialized
after each round, as the rollout sensor asks for it when labels mature:

1. a challenger equal to the champion (same data, same seed), let into shadow, is never promoted;
2. a challenger trained on 2023-01 (after the fare increase) is promoted on live evidence, and the guardrail
   that follows clears it;
3. a champion promoted on a stale holdout (a 2022 model judged on 2022 trips) does worse than the 2023 model it
   replaced on 2023-02 trips, and the guardrail rolls it back.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from litestar.testing import TestClient

from taxi_assets.alerting import Alerter
from taxi_assets.assets.features import training_set, trip_features
from taxi_assets.assets.ingestion import raw_trips, taxi_zones
from taxi_assets.assets.monitoring import reference_profile
from taxi_assets.assets.promotion import promotion_decision
from taxi_assets.assets.rollout import GUARDRAIL_CHECK, LIVE_SCORING, online_evaluation
from taxi_assets.assets.training import challenger_model
from taxi_assets.definitions import build_resources, mlflow_from_env, platform_db_from_env
from taxi_assets.features.columns import TARGET
from taxi_assets.features.schema import read_feature_table
from taxi_assets.model.versions import CHALLENGER, CHAMPION, PREVIOUS_CHAMPION
from taxi_assets.partitions import month_service_key
from taxi_assets.registry.decisions import DecisionRecord
from taxi_assets.registry.rollout import GUARDRAIL, SHADOW, RolloutPlan
from taxi_assets.registry.sequential import PROMOTE, first_decision
from taxi_assets.resources import DataLake
from taxi_assets_tests.assets.support import FAST_PROMOTION, FAST_TRAINING, materialization_metadata
from taxi_assets_tests.support import TLC_DIR
from taxi_serving.app import create_app
from taxi_serving.settings import settings_from_env
from taxi_tools.replay.client import replay_trips, trip_payload

pytestmark = pytest.mark.slow  # trains four real models and replays a real month through the API

MODEL = "taxi-fare-green"
KEY = "rollout-test-key"
ROUND = 200  # trips per round; each round's fares arrive after the next round's requests
MAX_LABELS = 1_500  # the equal challenger's stage ends at this many labels


@dataclass
class Live:
    """One data home with its API, and what the replay saw."""

    home: Path
    env: dict[str, str]
    instance: dg.DagsterInstance
    client: TestClient | None  # type: ignore[type-arg]
    trips: pd.DataFrame
    offset: int = 0
    evaluations: dict[str, list[dg.ExecuteInProcessResult]] = field(default_factory=dict)
    offline: dict[str, dict[str, object]] = field(default_factory=dict)
    decisions: dict[str, DecisionRecord] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    served: dict[str, set[str]] = field(default_factory=dict)

    def materialize(
        self, assets: list[dg.AssetsDefinition], partition: str, config: dict[str, object] | None = None, **env: str
    ) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            assets,
            resources=build_resources(self.env | env),
            partition_key=partition,
            instance=self.instance,
            run_config=config,
            selection=assets,
        )

    def train(self, label: str, month: str, promotion: dict[str, object], **env: str) -> dict[str, object]:
        config = {
            "ops": {
                "training_set": {"config": {"months": [month]}},
                "challenger_model": {"config": FAST_TRAINING},
                "promotion_decision": {"config": FAST_PROMOTION | promotion},
            }
        }
        result = self.materialize([training_set, reference_profile, challenger_model, promotion_decision], "green",
                                  config, **env)  # fmt: skip
        decision = materialization_metadata(result, "promotion_decision")
        self.versions[label], self.offline[label] = str(decision["challenger_version"]), decision
        if self.client is not None:
            self.refresh()
        return decision

    def refresh(self) -> None:
        """What each API worker does at its next poll of the registry."""
        self.client.app.state.serving.store.refresh()

    def replay_until_decided(self, label: str, rounds: int) -> None:
        """Rounds of requests, each followed by the previous round's true fares and an online_evaluation run."""
        self.evaluations[label], self.served[label] = [], set()
        due: list[tuple[str, float]] = []
        for _ in range(rounds):
            answered = []
            for row in self.trips.iloc[self.offset : self.offset + ROUND].to_dict("records"):
                body = trip_payload(row) | {"client_id": f"c{self.offset % 500}"}
                response = self.client.post("/predict", json=body, headers={"X-API-Key": KEY})
                assert response.status_code == 200, response.text
                answered.append((response.json()["request_id"], float(row[TARGET])))
                self.served[label].add(response.json()["model_version"])
                self.offset += 1
            assert self.client.app.state.serving.sink.flush()
            for request_id, fare in due:
                response = self.client.post("/feedback", json={"request_id": request_id, "actual_fare": fare},
                                            headers={"X-API-Key": KEY})  # fmt: skip
                assert response.status_code == 200, response.text
            due = answered
            result = self.materialize([online_evaluation], "green")
            self.evaluations[label].append(result)
            if materialization_metadata(result, "online_evaluation").get("decision_id") is not None:
                store = platform_db_from_env(self.env).decisions()
                self.decisions[label] = store.history("green")[-1]
                store.dispose()
                self.refresh()
                return
        raise AssertionError(f"{label}: no live decision after {rounds} rounds of {ROUND} trips")

    def aliases(self) -> dict[str, str | None]:
        registry = mlflow_from_env(self.env).registry()
        return {alias: registry.alias(MODEL, alias) for alias in (CHAMPION, PREVIOUS_CHAMPION, CHALLENGER)}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    home = tmp_path_factory.mktemp("live")
    env = {
        "TAXI_HOME": str(home),
        "TAXI_TRIPS_DIR": str(TLC_DIR),
        "TAXI_ROLLOUT_STAGES": "shadow",
        "TAXI_ROLLOUT_MAX_LABELS": str(MAX_LABELS),
        "TAXI_API_KEYS": KEY,
        "TAXI_MODEL_POLL_SECONDS": "3600",
    }
    instance = dg.DagsterInstance.ephemeral()
    resources = build_resources(env)
    dg.materialize([taxi_zones], resources=resources, instance=instance)
    for month in ("2022-01", "2023-01", "2023-02"):
        partition = str(month_service_key(month, "green"))
        dg.materialize([raw_trips, trip_features], resources=resources, partition_key=partition, instance=instance)
    lake = DataLake(root=str(home / "lake"))
    trips = replay_trips(read_feature_table(lake.committed_features("green", "2023-02")), 12_000, seed=7)
    story = Live(home, env, instance, None, trips)
    first = story.train("v1", "2022-01", {})
    assert first["decision"] == "promote", first
    with TestClient(create_app(settings_from_env(env))) as client:
        story.client = client
        # 1. equal to the champion, let into shadow by an offline gate that admits anything: never promoted
        story.train("v2", "2022-01", {"min_rmse_improvement": -1e9})
        story.replay_until_decided("v2", rounds=MAX_LABELS // ROUND + 2)
        # 2. trained after the fare increase: through the offline rules into shadow, then promoted on live evidence
        story.train("v3", "2023-01", {})
        story.replay_until_decided("v3", rounds=15)
        story.replay_until_decided("v3 guardrail", rounds=15)
        # 3. a 2022 model promoted at once (no stages) on a stale 2022 holdout: the guardrail rolls it back. The
        #    segment gate refuses it first on its own (it under-charges 15-mile trips against the rest far more
        #    than the champion does); with the gate turned off, as an operator may, the guardrail is what is left
        stale = {"holdout_months": ["2022-01"]}
        story.train("v4 gated", "2022-01", stale, TAXI_ROLLOUT_STAGES="")
        story.train("v4", "2022-01", stale | {"segment_gate": False}, TAXI_ROLLOUT_STAGES="")
        story.replay_until_decided("v4 guardrail", rounds=15)
        yield story


def test_an_equal_challenger_is_never_promoted(live: Live) -> None:
    offline = live.offline["v2"]
    assert offline["decision"] == "shadow"
    assert offline["challenger_rmse"] == offline["champion_rmse"]
    decision = live.decisions["v2"]
    assert (decision.action, decision.challenger_version) == ("reject", live.versions["v2"])
    assert f"no decision within {MAX_LABELS} labels" in decision.reason
    live_rules = decision.rules["live"]
    assert live_rules["labels"] == MAX_LABELS
    assert live_rules["mean_difference"] == 0.0  # the same trees: the same fare on every trip
    assert decision.challenger_metrics["live_rmse"] == decision.champion_metrics["live_rmse"]
    # answered by the champion throughout; each earlier evaluation continued
    assert live.served["v2"] == {live.versions["v1"]}
    steps = [materialization_metadata(r, "online_evaluation")["step"] for r in live.evaluations["v2"]]
    assert steps == ["continue"] * (len(steps) - 1) + ["reject"]


def test_a_challenger_trained_after_the_fare_increase_is_promoted_on_live_evidence(live: Live) -> None:
    assert live.offline["v3"]["decision"] == "shadow"
    decision = live.decisions["v3"]
    assert (decision.action, decision.challenger_version, decision.new_champion_version) == (
        "promote",
        live.versions["v3"],
        live.versions["v3"],
    )
    labels = decision.rules["live"]["labels"]
    rmse = decision.challenger_metrics["live_rmse"], decision.champion_metrics["live_rmse"]
    print(f"\nv3 promoted on live evidence after {labels} labels: live RMSE {rmse[0]:.3f} against {rmse[1]:.3f}")
    assert 200 <= labels <= decision.challenger_metrics["labels"]
    assert decision.rules["live"]["low"] > 0
    assert decision.rules["live"]["statistic"] > 1
    assert decision.challenger_metrics["live_rmse"] < decision.champion_metrics["live_rmse"] - 1.0
    assert set(decision.rules["segments"]) == {"pickup_borough", "payment_type"}
    # while in shadow the champion answered everything; the shadow scores covered every request
    assert live.served["v3"] == {live.versions["v1"]}
    scoring = [e for e in live.evaluations["v3"][-1].get_asset_check_evaluations() if e.check_name == LIVE_SCORING]
    assert scoring[0].passed
    assert scoring[0].metadata["coverage"].value == 1.0
    # then the new champion answers, with the old one in shadow for the guardrail, which clears it
    assert live.served["v3 guardrail"] == {live.versions["v3"]}
    guardrail = live.decisions["v3 guardrail"]
    assert (guardrail.action, guardrail.challenger_version, guardrail.champion_version) == (
        "cleared",
        live.versions["v1"],
        live.versions["v3"],
    )


def test_a_champion_worse_than_the_one_it_replaced_is_rolled_back(live: Live) -> None:
    gated = live.offline["v4 gated"]
    assert gated["decision"] == "reject"
    assert str(gated["reason"]).startswith("worse for distance_band=15 mi and over")
    assert gated["segments_blocked"] == "distance_band=15 mi and over"
    offline = live.offline["v4"]
    assert offline["decision"] == "promote"
    assert offline["holdout"] == "trip_features 2022-01"
    assert "segments" not in offline["rules"]  # the gate was off
    rollback = live.decisions["v4 guardrail"]
    assert (rollback.action, rollback.champion_version, rollback.new_champion_version) == (
        "rollback",
        live.versions["v4"],
        live.versions["v3"],
    )
    assert rollback.rules["live"]["stage"] == "guardrail"
    assert rollback.rules["live"]["low"] > 0  # the new champion's squared error is confidently higher
    assert live.aliases() == {CHAMPION: live.versions["v3"], PREVIOUS_CHAMPION: None, CHALLENGER: None}
    (check,) = [
        e for e in live.evaluations["v4 guardrail"][-1].get_asset_check_evaluations()
        if e.check_name == GUARDRAIL_CHECK
    ]  # fmt: skip
    assert not check.passed
    alerts = Alerter(platform_db_from_env(live.env).url).history("green")
    assert any(a["kind"] == "rolled_back" and f"v{live.versions['v4']}" in a["title"] for a in alerts)
    # the API serves the restored champion at its next poll
    body = trip_payload(live.trips.iloc[0].to_dict())
    answer = live.client.post("/predict", json=body, headers={"X-API-Key": KEY}).json()
    assert answer["model_version"] == live.versions["v3"]


SEEDS = range(1, 6)


def test_the_same_decisions_on_other_samples_of_the_month(live: Live) -> None:
    """The three outcomes on five more seeded samples of 2023-02, scored by the same registered models.

    Each sample is read in pickup order, as labels arrive, by the test with the platform's default rule: how many
    labels each decision took is what the README reports.
    """
    registry = mlflow_from_env(live.env).registry()
    models = {label: registry.load_fare_model(MODEL, live.versions[label]) for label in ("v1", "v2", "v3", "v4")}
    month = read_feature_table(DataLake(root=str(live.home / "lake")).committed_features("green", "2023-02"))
    plan = RolloutPlan(stages=(SHADOW,))
    promoted, rolled_back = [], []
    for seed in SEEDS:
        trips = replay_trips(month, 5_000, seed)
        actual = trips[TARGET].to_numpy()
        loss = {label: np.square(model.predict(trips) - actual) for label, model in models.items()}
        promotion = first_decision(loss["v1"] - loss["v3"], plan.rule(SHADOW))
        equal = first_decision(loss["v1"] - loss["v2"], plan.rule(SHADOW))
        guardrail = first_decision(loss["v4"] - loss["v3"], plan.rule(GUARDRAIL))
        assert promotion.decision == PROMOTE, (seed, promotion)
        assert equal.decision != PROMOTE, (seed, equal)
        assert guardrail.decision == PROMOTE, (seed, guardrail)  # in the guardrail: the new champion is worse
        promoted.append(promotion.labels)
        rolled_back.append(guardrail.labels)
    print(f"\nlabels to promote the 2023-01 challenger over the 2022 champion, seeds {list(SEEDS)}: {promoted}")
    print(f"labels to roll back the 2022 model promoted over the 2023 one: {rolled_back}")
