"""The whole loop on real months, as ``make demo`` runs it, judged from the outside.

Champion on green 2022-01..02; a replay of 2022-03 (unseen trips, same fares) with true fares raises no ERROR
check; a replay of 2023-01 (after the fare increase, when no feature's PSI moves past 0.04) fails the accuracy
check; the sensor, evaluated against a real instance, requests exactly one retraining run; the challenger is
promoted and the running API serves it.
"""

import os
import socket
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from taxi_assets.definitions import mlflow_from_env
from taxi_assets.drift.checks import ACCURACY, FEATURE_DRIFT
from taxi_assets.lifecycle.alerts import Alerter
from taxi_assets.lifecycle.decisions import DECISIONS
from taxi_assets.lifecycle.registry import CHAMPION, PREVIOUS_CHAMPION, model_name
from taxi_assets.runner import Runner
from taxi_assets.story import StoryOptions, run_story, sensor_tick, skip_text
from taxi_assets_tests.conftest import TLC_DIR


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_fare_increase_is_caught_by_accuracy_retrained_promoted_and_served(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TAXI_", "MLFLOW_TRACKING"))}
    env |= {
        "TAXI_HOME": str(tmp_path),
        "TAXI_TRIPS_DIR": str(TLC_DIR),
        "TAXI_API_PORT": str(free_port()),
        "TAXI_API_KEYS": "loop-key",
    }
    options = StoryOptions(
        service="green",
        training_months=("2022-01", "2022-02"),
        calm_month="2022-03",
        drift_month="2023-01",
        calm_rows=3_000,
        drift_rows=5_000,
        rate=2_000.0,
        compression=6_000.0,
    )
    with dg.instance_for_test() as instance:
        runner = Runner(env, instance)
        story = run_story(runner, options)
        retrain_runs = instance.get_runs(filters=dg.RunsFilter(job_name="retrain_job"))
        # the daemon's copy of the sensor starts with no cursor: the instance still tells it the failure is handled
        fresh = sensor_tick(runner, None)

    # 2022-03: same fare regime, no false alarm, nothing to retrain
    calm = story.checks["2022-03"]
    assert all(check.passed or check.severity == dg.AssetCheckSeverity.WARN for check in calm.values())
    assert calm[ACCURACY].passed
    assert "no new ERROR failure" in story.sensor_before
    assert story.replays["2022-03"].feedback_ok >= 2_950

    # 2023-01: the inputs look the same, the fares do not; only the labelled accuracy sees it
    drift = story.checks["2023-01"]
    assert not drift[ACCURACY].passed
    assert drift[ACCURACY].severity == dg.AssetCheckSeverity.ERROR
    assert drift[FEATURE_DRIFT].passed
    assert float(drift[ACCURACY].metadata["value"].value) > float(drift[ACCURACY].metadata["threshold"].value)  # type: ignore[arg-type]
    assert float(drift[ACCURACY].metadata["effect_ci_95"].value[0]) > 0  # type: ignore[index]

    # exactly one retraining run, requested by the sensor for the failed accuracy check, and it succeeded
    retrains = [request for request in story.sensor_requests if request.job_name == "retrain_job"]
    assert len(retrains) == 1
    assert retrains[0].tags["taxi/trigger"] == ACCURACY
    assert len(retrain_runs) == 1
    assert retrain_runs[0].status == dg.DagsterRunStatus.SUCCESS
    assert retrain_runs[0].tags["taxi/trigger"] == ACCURACY
    assert "no new ERROR failure" in story.sensor_after
    assert isinstance(fresh, dg.SensorResult)
    assert not fresh.run_requests
    assert "already handled by retrain_job run" in skip_text(fresh)

    # promoted on the most recent labelled traffic, and served by the running API
    decision = story.decision
    assert decision["decision"] == "promote"
    assert "labelled traffic" in str(decision["holdout"])
    assert float(decision["challenger_rmse"]) + 0.5 <= float(decision["champion_rmse"])
    new_version = str(decision["champion_version_after"])
    assert new_version != story.champion_before
    assert story.served_version_after == new_version
    registry = mlflow_from_env(env).registry()
    assert registry.alias(model_name("green"), CHAMPION) == new_version
    assert registry.alias(model_name("green"), PREVIOUS_CHAMPION) == story.champion_before

    # every decision and every alert is on record
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'platform.db'}")
    with engine.connect() as connection:
        actions = [row.action for row in connection.execute(sa.select(DECISIONS.c.action).order_by(DECISIONS.c.id))]
    engine.dispose()
    assert actions == ["promote", "promote"]
    kinds = [row["kind"] for row in Alerter(f"sqlite:///{tmp_path / 'platform.db'}").history("green")]
    assert kinds == ["promoted", "check_failed", "retrain_started", "promoted"]
