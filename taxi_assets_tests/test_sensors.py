"""Retraining on the newest data: a month that cannot be had, and a month that is not whole, fail visibly once."""

from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from taxi_assets import run_tags
from taxi_assets.alerting import Alerter
from taxi_assets.assets.features import training_set
from taxi_assets.definitions import build_defs, build_resources
from taxi_assets.lake_storage import MANIFEST
from taxi_assets.partitions import month_service_key
from taxi_assets.resources import DataLake
from taxi_assets.sensors import retrain_on_failed_checks
from taxi_assets_tests.champions import Trained
from taxi_assets_tests.monitored import champion, judge, log_traffic, sensor_resources
from taxi_assets_tests.support import TLC_DIR
from taxi_tools.runner import Runner

LOW_TRAFFIC = {"labelled_traffic": {"config": {"min_rows": 100}}}


def execute(env: dict[str, str], instance: dg.DagsterInstance, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    """Run what the sensor asked for, as the daemon would: its job, partition, config and tags."""
    assert request.job_name is not None  # the sensor names the job of every request
    extra = LOW_TRAFFIC if request.job_name == "retrain_job" else {}
    ops: dict[str, Any] = {**extra, **request.run_config.get("ops", {})}
    return (
        build_defs(env)
        .resolve_job_def(request.job_name)
        .execute_in_process(
            instance=instance,
            partition_key=request.partition_key,
            run_config={"ops": ops},
            tags=dict(request.tags),
            raise_on_error=False,
        )
    )


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    return " ".join(
        event.step_failure_data.error.message
        for event in result.get_step_failure_events()
        if event.step_failure_data.error
    )


def test_a_month_that_cannot_be_had_fails_one_run_with_a_critical_alert_and_the_sensor_does_not_loop(
    trained: Trained, tmp_path: Path
) -> None:
    # the source lists green 2023-03, but the file is not TLC data: its ingestion will fail
    trips = tmp_path / "trips"
    (trips / "green").mkdir(parents=True)
    (trips / "green" / "green_tripdata_2023-03.parquet").write_bytes(b"not a parquet file")
    (trips / "taxi_zone_lookup.csv").write_bytes((TLC_DIR / "taxi_zone_lookup.csv").read_bytes())
    env = {"TAXI_HOME": str(tmp_path), "TAXI_TRIPS_DIR": str(trips)}
    lake = DataLake(root=str(tmp_path / "lake"))
    version, predictions = champion(tmp_path, trained)
    higher = trained.holdout["fare_amount"].to_numpy() * 1.35
    log_traffic(tmp_path, trained.holdout, predictions, version, higher, rejected=0)
    resources = sensor_resources(tmp_path, lake, months=1, trips=trips)

    cursor: str | None = None

    def tick(instance: dg.DagsterInstance) -> tuple[list[dg.RunRequest], str]:
        """One evaluation of the sensor, carrying its cursor on: what it asked for, or why not."""
        nonlocal cursor
        context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
        result = retrain_on_failed_checks(context)
        if isinstance(result, dg.SkipReason):
            return [], str(result.skip_message)
        cursor = result.cursor or cursor
        skipped = result.skip_reason.skip_message if result.skip_reason else ""
        return list(result.run_requests or []), str(skipped)

    with dg.instance_for_test() as instance:
        judge(tmp_path, instance)
        (ingest,), _ = tick(instance)
        assert (ingest.job_name, ingest.partition_key) == ("ingest_job", str(month_service_key("2023-03", "green")))
        assert not execute(env, instance, ingest).success

        (retrain,), _ = tick(instance)
        assert retrain.job_name == "retrain_job"
        assert retrain.tags[run_tags.MISSING_MONTHS] == "2023-03"
        result = execute(env, instance, retrain)
        assert not result.success
        assert "2023-03: not in the lake" in failure_message(result)
        critical = [
            a for a in Alerter(f"sqlite:///{tmp_path / 'platform.db'}").history() if a["kind"] == "retrain_failed"
        ]
        assert [alert["severity"] for alert in critical] == ["CRITICAL"]
        assert "2023-03" in critical[0]["title"]

        # the failure is handled: the same evaluation never asks again, and a new one waits for the cooldown
        assert tick(instance)[0] == []
        judge(tmp_path, instance)
        asked, why = tick(instance)
        assert asked == []
        assert "cooldown ends" in why

        # the month appears in the lake (ingested by hand): the next failure retrains at once, cooldown or not
        (lake.features("green", "2023-03") / MANIFEST).write_text('{"rows": 60000, "days": 31}')
        judge(tmp_path, instance)
        (again,), _ = tick(instance)
        assert again.job_name == "retrain_job"
        assert again.run_config["ops"]["training_set"]["config"]["months"] == ["2023-03"]
        assert again.tags[run_tags.MISSING_MONTHS] == ""


@pytest.mark.slow
def test_a_one_night_sample_is_refused_as_a_retraining_month(tmp_path: Path) -> None:
    env = {"TAXI_HOME": str(tmp_path), "TAXI_TRIPS_DIR": str(TLC_DIR)}
    with dg.instance_for_test() as instance:
        # the first 10,000 trips of yellow 2025-01: the night of New Year's Eve, ingested for real
        Runner(env, instance).ingest("yellow", ["2025-01"], refresh=False)
        result = dg.materialize(
            [training_set],
            instance=instance,
            resources=build_resources(env),
            partition_key="yellow",
            run_config={"ops": {"training_set": {"config": {"months": ["2025-01"], "include_traffic": True}}}},
            raise_on_error=False,
        )
    assert not result.success
    (failure,) = result.get_step_failure_events()
    message = failure.step_failure_data.error.message if failure.step_failure_data.error else ""
    assert "retraining yellow on 2025-01 refused" in message
    assert "distinct days < 20" in message
    assert "days covered < 80%" in message
    alerts = Alerter(f"sqlite:///{tmp_path / 'platform.db'}").history()
    assert [(alert["severity"], alert["kind"]) for alert in alerts] == [("CRITICAL", "retrain_failed")]
    assert not (DataLake(root=str(tmp_path / "lake")).training_set("yellow") / MANIFEST).is_file()
