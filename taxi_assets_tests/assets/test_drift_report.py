"""The drift_report asset and its checks, on traffic logged the way the API logs it, for a real champion."""

import json
import uuid
from pathlib import Path

import dagster as dg
import pandas as pd

from taxi_assets.alerting import Alerter
from taxi_assets.assets.features import labelled_traffic, trip_features
from taxi_assets.assets.ingestion import raw_trips, taxi_zones
from taxi_assets.definitions import build_resources
from taxi_assets.lake_storage import MANIFEST
from taxi_assets.model.versions import ModelRegistry, model_name
from taxi_assets.monitoring.checks import ACCURACY, FEATURE_DRIFT, PREDICTION_DRIFT, VALIDATION_FAILURES
from taxi_assets.monitoring.incidents import IncidentStore
from taxi_assets.partitions import month_service_key
from taxi_assets.resources import DataLake
from taxi_assets.sensors import new_error_failures, retrain_on_failed_checks
from taxi_assets_tests.champions import Trained
from taxi_assets_tests.monitored import champion, judge, log_traffic, sensor_resources, today
from taxi_assets_tests.support import TLC_DIR


def test_traffic_like_the_training_data_raises_no_alarm(trained: Trained, tmp_path: Path) -> None:
    version, predictions = champion(tmp_path, trained)
    log_traffic(tmp_path, trained.holdout, predictions, version, trained.holdout["fare_amount"].to_numpy(), rejected=0)
    checks, metadata = judge(tmp_path)
    assert {name: check.passed for name, check in checks.items()} == {
        FEATURE_DRIFT: True,
        PREDICTION_DRIFT: True,
        VALIDATION_FAILURES: True,
        ACCURACY: True,
    }
    assert metadata["rows"] == len(trained.holdout)
    assert metadata["labelled_rows"] == len(trained.holdout)
    assert metadata["champion_version"] == version
    assert "| trip_distance |" in str(metadata["report"])
    assert checks[ACCURACY].metadata["threshold"].value > checks[ACCURACY].metadata["value"].value


def test_higher_fares_fail_accuracy_but_not_feature_drift(trained: Trained, tmp_path: Path) -> None:
    version, predictions = champion(tmp_path, trained)
    # the same trips, charged 35 % more (the fare increase): inputs unchanged, labels moved
    higher = trained.holdout["fare_amount"].to_numpy() * 1.35
    log_traffic(tmp_path, trained.holdout, predictions, version, higher, rejected=0)
    checks, metadata = judge(tmp_path)
    assert not checks[ACCURACY].passed
    assert checks[ACCURACY].severity == dg.AssetCheckSeverity.ERROR
    assert checks[FEATURE_DRIFT].passed
    assert float(metadata["bias"]) < -1.0  # the model under-predicts the new fares
    # a day's window cannot hold the reference's mix of weekdays: said, and not counted
    assert metadata["not_counted_features"] == ["pickup_day_of_week", "pickup_month", "is_weekend", "is_rush_hour"]
    # judged again, the window is the same incident: no second alert
    assert not judge(tmp_path)[0][ACCURACY].passed
    (alert,) = Alerter(f"sqlite:///{tmp_path / 'platform.db'}").history("green")
    assert (alert["kind"], alert["severity"]) == ("check_failed", "CRITICAL")
    assert alert["details"]["first_window"] == alert["details"]["last_window"] == today()[len("green|") :]
    (incident,) = IncidentStore(f"sqlite:///{tmp_path / 'platform.db'}").incidents("green")
    assert (incident.check, incident.failed_windows, incident.resolved_window) == (ACCURACY, 2, None)


def test_many_rejected_requests_fail_the_validation_check(trained: Trained, tmp_path: Path) -> None:
    version, predictions = champion(tmp_path, trained)
    log_traffic(tmp_path, trained.holdout, predictions, version, trained.holdout["fare_amount"].to_numpy(), rejected=60)
    checks, metadata = judge(tmp_path)
    assert not checks[VALIDATION_FAILURES].passed
    assert checks[VALIDATION_FAILURES].metadata["rate"].value == 60 / (60 + len(trained.holdout))
    assert metadata["rejected"] == 60


def test_a_window_too_small_to_judge_says_so(trained: Trained, tmp_path: Path) -> None:
    version, predictions = champion(tmp_path, trained)
    rows = trained.holdout.head(20)
    log_traffic(tmp_path, rows, predictions[:20], version, rows["fare_amount"].to_numpy() * 2, rejected=0)
    checks, _ = judge(tmp_path)
    assert all(check.passed for check in checks.values())
    assert "not enough data" in checks[ACCURACY].metadata["note"].value
    assert "not enough data" in checks[FEATURE_DRIFT].metadata["note"].value


def ingest(home: Path, month: str) -> None:
    """Really ingest one green month into the lake under ``home`` (what the sensor's ingest run does)."""
    resources = build_resources({"TAXI_HOME": str(home), "TAXI_TRIPS_DIR": str(TLC_DIR)})
    assert dg.materialize([taxi_zones], resources=resources).success
    partition = str(month_service_key(month, "green"))
    assert dg.materialize([raw_trips, trip_features], resources=resources, partition_key=partition).success


def test_the_sensor_retrains_once_per_failure_and_respects_the_cooldown(trained: Trained, tmp_path: Path) -> None:
    version, predictions = champion(tmp_path, trained)
    higher = trained.holdout["fare_amount"].to_numpy() * 1.35
    log_traffic(tmp_path, trained.holdout, predictions, version, higher, rejected=0)
    lake = DataLake(root=str(tmp_path / "lake"))

    def tick(instance: dg.DagsterInstance, cursor: str | None = None) -> dg.SensorResult | dg.SkipReason:
        context = dg.build_sensor_context(
            instance=instance,
            cursor=cursor,
            resources=sensor_resources(tmp_path, lake),
        )
        return retrain_on_failed_checks(context)

    with dg.instance_for_test() as instance:
        assert isinstance(tick(instance), dg.SkipReason)  # nothing evaluated yet

        checks, _ = judge(tmp_path, instance)
        assert not checks[ACCURACY].passed
        # the retraining month is not in the lake: its ingestion first, the failure stays unhandled
        waiting = tick(instance)
        assert isinstance(waiting, dg.SensorResult)
        (ingest_request,) = waiting.run_requests or []
        assert (ingest_request.job_name, ingest_request.partition_key) == ("ingest_job", "2023-02|green")
        assert waiting.cursor is None
        ingest(tmp_path, "2023-02")

        result = tick(instance)
        assert isinstance(result, dg.SensorResult)
        (request,) = result.run_requests or []
        assert (request.job_name, request.partition_key) == ("retrain_job", "green")
        assert request.tags["taxi/trigger"] == "accuracy"
        assert request.run_config["ops"]["training_set"]["config"] == {
            "months": ["2023-02"],
            "include_traffic": True,
            "expected_months": 1,
        }
        handled = json.loads(result.cursor or "{}")["services"]["green"]["last_id"]
        assert request.run_key == f"retrain-green-{handled}"

        # the same evaluation is never acted on twice
        again = tick(instance, result.cursor)
        assert isinstance(again, dg.SkipReason)
        assert "no new ERROR failure" in str(again.skip_message)

        # drift persists: a new failing evaluation inside the cooldown is acknowledged, not retrained
        judge(tmp_path, instance)
        persisting = tick(instance, result.cursor)
        assert isinstance(persisting, dg.SensorResult)
        assert not persisting.run_requests
        assert persisting.skip_reason is not None
        assert "cooldown ends" in str(persisting.skip_reason.skip_message)

        # WARN-level failures (one or two drifted features) never retrain
        assert all(failure.check != "feature_drift" for failure in new_error_failures(instance, 0))


def test_each_version_carries_its_reference_for_monitoring(trained: Trained, tmp_path: Path) -> None:
    version, _ = champion(tmp_path, trained)
    registry = ModelRegistry(f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}", (tmp_path / "mlflow").as_uri())
    served = registry.load_pyfunc(model_name("green"), version)
    assert served.profile is not None
    assert served.profile.months == ["2022-01"]
    assert served.reference_sample is not None
    assert list(served.reference_sample.columns) == list(pd.read_csv(trained.profile_path.parent / "reference.csv"))
    assert len(served.reference_sample) == 100


def test_retraining_without_enough_labelled_traffic_fails_saying_how_much_there_is(
    trained: Trained, tmp_path: Path
) -> None:
    version, predictions = champion(tmp_path, trained)
    rows = trained.holdout.head(40)
    log_traffic(tmp_path, rows, predictions[:40], version, rows["fare_amount"].to_numpy(), rejected=0)
    result = dg.materialize(
        [labelled_traffic],
        resources=build_resources({"TAXI_HOME": str(tmp_path)}),
        partition_key="green",
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = result.get_step_failure_events()
    message = failure.step_failure_data.error.message if failure.step_failure_data.error else ""
    assert "40 served rows with a true fare" in message
    assert "at least 500 are needed" in message
    assert not (tmp_path / "lake" / "traffic" / "green").exists()


def test_a_window_spanning_a_promotion_judges_each_version_against_its_own_reference(
    trained: Trained, tmp_path: Path
) -> None:
    old, old_predictions = champion(tmp_path, trained, "a")
    # the old champion's traffic before the promotion: the fare increase, which it fails
    log_traffic(tmp_path, trained.holdout, old_predictions, old, trained.holdout["fare_amount"].to_numpy() * 1.35, 0)
    new, new_predictions = champion(tmp_path, trained, "b")  # promoted: the alias moves to the new version
    log_traffic(tmp_path, trained.holdout, new_predictions, new, trained.holdout["fare_amount"].to_numpy(), 0)
    with dg.instance_for_test() as instance:
        checks, metadata = judge(tmp_path, instance)
        # the old version's rows still fail, against the old version's own holdout: history, not an incident
        accuracy = checks[ACCURACY]
        assert not accuracy.passed
        assert accuracy.severity == dg.AssetCheckSeverity.WARN
        assert accuracy.metadata["model_version"].value == old
        assert accuracy.metadata["versions"].value == {
            new: {"passed": True, "severity": None},
            old: {"passed": False, "severity": "WARN"},
        }
        assert metadata["rows_by_version"] == {old: len(trained.holdout), new: len(trained.holdout)}
        assert metadata["champion_version"] == new
        # nothing to retrain: the new champion's own traffic is fine
        assert new_error_failures(instance, 0) == []
    alerts = Alerter(f"sqlite:///{tmp_path / 'platform.db'}").history()
    assert [alert["severity"] for alert in alerts] == ["WARNING"]
    assert f"v{old}:" in alerts[0]["title"]
    assert not any(f"v{new}:" in alert["title"] for alert in alerts)


def test_green_and_yellow_in_one_database_are_judged_apart_and_retrained_apart(
    trained: Trained, tmp_path: Path
) -> None:
    green, predictions = champion(tmp_path, trained, "a", service="green")
    yellow, _ = champion(tmp_path, trained, "a", service="yellow")
    fares = trained.holdout["fare_amount"].to_numpy()
    log_traffic(tmp_path, trained.holdout, predictions, green, fares, rejected=0, service="green")
    log_traffic(tmp_path, trained.holdout, predictions, yellow, fares * 1.35, rejected=0, service="yellow")
    lake = DataLake(root=str(tmp_path / "lake"))
    for month in ("2023-02",):  # both services' retraining months are in the lake: no ingestion first
        for service in ("green", "yellow"):
            (lake.features(service, month) / MANIFEST).write_text("{}")

    def tick(instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult | dg.SkipReason:
        resources = sensor_resources(tmp_path, lake, trips=tmp_path)  # no TLC files: the lake's months only
        return retrain_on_failed_checks(dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources))

    with dg.instance_for_test() as instance:
        green_checks, green_metadata = judge(tmp_path, instance, service="green")
        yellow_checks, yellow_metadata = judge(tmp_path, instance, service="yellow")
        assert green_checks[ACCURACY].passed
        assert not yellow_checks[ACCURACY].passed
        assert green_metadata["rows"] == yellow_metadata["rows"] == len(trained.holdout)
        first = tick(instance, None)
        assert isinstance(first, dg.SensorResult)
        (yellow_run,) = first.run_requests or []
        assert (yellow_run.job_name, yellow_run.partition_key) == ("retrain_job", "yellow")
        # yellow's retraining has started (the cooldown begins) when green fails too
        instance.add_run(
            dg.DagsterRun(job_name="retrain_job", run_id=str(uuid.uuid4()), tags={"dagster/partition": "yellow"})
        )
        log_traffic(tmp_path, trained.holdout, predictions, green, fares * 1.35, rejected=0, service="green")
        green_checks, _ = judge(tmp_path, instance, service="green")
        assert not green_checks[ACCURACY].passed
        second = tick(instance, first.cursor)
        assert isinstance(second, dg.SensorResult)
        (green_run,) = second.run_requests or []
        assert (green_run.job_name, green_run.partition_key) == ("retrain_job", "green")
        # while yellow's new failure waits for its own cooldown
        yellow_checks, _ = judge(tmp_path, instance, service="yellow")
        third = tick(instance, second.cursor)
        assert isinstance(third, dg.SensorResult)
        assert not third.run_requests
        assert third.skip_reason is not None
        assert "yellow: accuracy failed" in str(third.skip_reason.skip_message)
        assert "cooldown ends" in str(third.skip_reason.skip_message)
