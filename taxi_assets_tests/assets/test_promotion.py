"""promotion_decision and rollback materialized for real; every decision readable in the table, MLflow and Dagster."""

from pathlib import Path

import dagster as dg
import pytest

from taxi_assets.assets.promotion import rollback_job
from taxi_assets.data_home import DataHome
from taxi_assets.definitions import build_defs, platform_db_from_env
from taxi_assets_tests.assets.support import Lifecycle, materialization_metadata
from taxi_serving.model_store import ModelStore
from taxi_tools.instance_watch import failed_checks_of_run

pytestmark = pytest.mark.slow  # trains and promotes real models

MODEL = "taxi-fare-green"


def test_first_model_becomes_champion_and_an_equal_one_is_rejected(lifecycle: Lifecycle) -> None:
    first = materialization_metadata(lifecycle.runs["v1"], "promotion_decision")
    assert first["decision"] == "promote"
    assert first["champion_version_after"] == "1"
    # where the run's time went: the steps before the decision, in the order they ran, from Dagster's step stats
    steps = first["run_step_seconds"]
    assert isinstance(steps, list)
    assert [step for step, _ in steps] == ["training_set", "reference_profile", "challenger_model"]
    assert all(seconds > 0 for _, seconds in steps)
    assert lifecycle.aliases["v1"] == {"champion": "1", "previous_champion": None, "challenger": None}

    second = materialization_metadata(lifecycle.runs["v2"], "promotion_decision")
    assert second["decision"] == "reject"
    assert second["challenger_rmse"] == second["champion_rmse"]
    assert "RMSE improvement 0.000 < required 0.5" in str(second["reason"])
    rules = second["rules"]
    assert isinstance(rules, dict)
    assert rules["rmse_improvement"]["passed"] is False
    assert rules["checks_passed"]["passed"] is True
    # a rejected challenger keeps its alias for A/B use; the champion stays
    assert lifecycle.aliases["v2"] == {"champion": "1", "previous_champion": None, "challenger": "2"}


def test_a_model_trained_after_the_fare_increase_replaces_the_2022_champion(lifecycle: Lifecycle) -> None:
    third = materialization_metadata(lifecycle.runs["v3"], "promotion_decision")
    assert third["decision"] == "promote"
    assert third["holdout"] == "training_set test split (2023-01)"
    # the 2022 model under-predicts 2023 fares: much worse RMSE on the 2023 holdout
    assert float(third["champion_rmse"]) - float(third["challenger_rmse"]) > 1.0  # type: ignore[arg-type]
    # the old champion runs in shadow beside the new one, for the guardrail
    assert lifecycle.aliases["v3"] == {"champion": "3", "previous_champion": "1", "challenger": "1"}
    tags = lifecycle.registry().version_tags(MODEL, "1")
    assert (tags["rollout.stage"], tags["rollout.against"]) == ("guardrail", "3")


def test_every_decision_is_in_the_table_and_on_the_model_versions(lifecycle: Lifecycle) -> None:
    store = platform_db_from_env(lifecycle.env).decisions()
    history = store.history("green")
    store.dispose()
    assert [(r.action, r.challenger_version, r.champion_version) for r in history[:3]] == [
        ("promote", "1", None),
        ("reject", "2", "1"),
        ("promote", "3", "1"),
    ]
    rejected = history[1]
    assert rejected.dagster_run_id == lifecycle.runs["v2"].run_id
    assert rejected.challenger_metrics["rmse"] == rejected.champion_metrics["rmse"]
    assert rejected.rules["rmse_improvement"]["threshold"] == 0.5
    assert "p99_ms" in rejected.challenger_metrics
    tags = lifecycle.registry().version_tags(MODEL, "2")
    assert tags["decision"] == "reject"
    assert tags["decision.compared_with"] == "1"
    assert tags["decision.dagster_run_id"] == lifecycle.runs["v2"].run_id
    assert lifecycle.registry().version_tags(MODEL, "3")["decision"] == "promote"


def test_every_version_has_a_card_naming_its_months_segments_and_decision(lifecycle: Lifecycle) -> None:
    registry = lifecycle.registry()
    versions = [str(v.version) for v in registry.client.search_model_versions(f"name='{MODEL}'")]
    assert {"1", "2", "3"} <= set(versions)
    for version in versions:
        card = registry.card(MODEL, version)
        assert card is not None, version
        assert registry.version_tags(MODEL, version)["model_card"].endswith("/model_card.md")
    promoted = registry.card_facts(MODEL, "3")
    assert promoted is not None
    assert promoted["training"]["months"] == ["2023-01"]
    assert promoted["segments"]["pickup_borough"]["Manhattan"]["rows"] > 200
    assert {"distance_band", "time_of_day", "payment_type"} <= set(promoted["segments"])
    assert next(iter(promoted["importance"]["mean_abs_usd"])) in ("trip_distance", "trip_duration_minutes")
    decision = promoted["decisions"][0]
    assert (decision["action"], decision["compared_with"]) == ("promote", "1")
    # the 2022 champion under-prices 2023 trips everywhere: the new model is worse for no segment
    assert decision["evidence"]["segments"]["passed"] is True
    assert decision["evidence"]["segments"]["tests"] > 20
    card = registry.card(MODEL, "3")
    assert "TLC green trip records of 2023-01" in str(card)
    assert "**promote**" in str(card)
    # the 2022 models carry the fare change as a known limit
    first = registry.card_facts(MODEL, "1")
    assert first is not None
    assert any("fare increase of 2022-12-19" in limit for limit in first["limits"])
    rejected = registry.card_facts(MODEL, "2")
    assert rejected is not None
    assert rejected["decisions"][0]["action"] == "reject"


def test_a_failed_blocking_check_stops_promotion(lifecycle: Lifecycle, tmp_path: Path) -> None:
    before = lifecycle.current_aliases()
    result = lifecycle.train(["2023-01"], training={"parity_tolerance_usd": -1.0})
    assert not result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert "promotion_decision" not in materialized
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "serving_artifact_parity"]
    assert not evaluation.passed
    assert evaluation.metadata["tolerance_usd"].value == -1.0
    # the run says which rule failed, by how much, and what comes next
    because = evaluation.metadata["failed_because"].value
    assert "max |ONNX - Spark|" in because, because
    assert "(tolerance -1)" in because, because
    assert "make train" in evaluation.metadata["next"].value  # not a sensor's retraining: no cooldown to wait for
    version = str(materialization_metadata(result, "challenger_model")["model_version"])
    assert lifecycle.registry().version_tags(MODEL, version)["check.serving_artifact_parity"] == "failed"
    # registered but never the challenger: the API and the rollout never see it
    assert lifecycle.current_aliases() == before
    store = ModelStore(DataHome.from_env(lifecycle.env).tracking_uri, MODEL, tmp_path, with_challenger=True)
    store.refresh()
    loaded = {model.version for model in (store.champion, store.challenger) if model is not None}
    assert loaded == {before["champion"], before["challenger"]} - {None}
    assert version not in loaded
    # the alert names the version, the check and its value
    (alert,) = [row for row in alert_rows(lifecycle) if row["details"].get("model_version") == version]
    assert alert["kind"] == "retrain_failed"
    assert f"v{version} failed serving_artifact_parity" in alert["title"]
    assert alert["details"]["check.serving_artifact_parity"] == because
    # and the demo, when its retraining fails, prints the same from the run
    (said,) = failed_checks_of_run(lifecycle.instance, result.run_id)
    assert said.startswith(f"challenger_model check serving_artifact_parity failed: {because}. Next: train again")


def alert_rows(lifecycle: Lifecycle) -> list[dict[str, object]]:
    from taxi_dashboard.tables import alerts

    return alerts(platform_db_from_env(lifecycle.env).url, "green").to_dict("records")


def rollback(lifecycle: Lifecycle) -> dg.ExecuteInProcessResult:
    job = build_defs(lifecycle.env).resolve_job_def(rollback_job.name)
    return job.execute_in_process(
        run_config={"ops": {"rollback_champion": {"config": {"service": "green"}}}},
        instance=lifecycle.instance,
        raise_on_error=False,
    )


def test_rollback_restores_the_previous_champion_and_is_recorded(lifecycle: Lifecycle) -> None:
    assert lifecycle.current_aliases()["champion"] == "3"
    result = rollback(lifecycle)
    assert result.success
    assert lifecycle.current_aliases()["champion"] == "1"
    assert lifecycle.current_aliases()["previous_champion"] is None
    store = platform_db_from_env(lifecycle.env).decisions()
    last = store.history("green")[-1]
    store.dispose()
    assert (last.action, last.champion_version, last.new_champion_version) == ("rollback", "3", "1")
    assert last.dagster_run_id == result.run_id


def test_a_second_rollback_fails_clearly(lifecycle: Lifecycle) -> None:
    result = rollback(lifecycle)
    assert not result.success
    (event,) = result.get_step_failure_events()
    assert event.step_failure_data.error is not None
    assert "has no 'previous_champion' to roll back to" in event.step_failure_data.error.message
    assert lifecycle.current_aliases()["champion"] == "1"


@pytest.mark.parametrize("alias", ["champion"])
def test_the_rolled_back_champion_is_servable(lifecycle: Lifecycle, alias: str) -> None:
    registry = lifecycle.registry()
    version = registry.alias(MODEL, alias)
    model = registry.load_fare_model(MODEL, str(version))
    assert (
        model.predict_row(
            {
                "trip_distance": 2.0,
                "passenger_count": 1,
                "pickup_hour": 14,
                "pickup_day_of_week": 2,
                "pickup_month": 1,
                "trip_duration_minutes": 12.0,
                "is_weekend": 0,
                "is_rush_hour": 0,
                "RatecodeID": 1,
                "payment_type": 1,
                "pickup_borough": "Manhattan",
                "dropoff_borough": "Manhattan",
            }
        )
        > 0
    )
