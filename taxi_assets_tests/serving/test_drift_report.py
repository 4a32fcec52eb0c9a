"""The drift_report asset and its checks, on traffic logged the way the API logs it, for a real champion."""

import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from taxi_assets.assets.drift import drift_report
from taxi_assets.assets.features import trip_features
from taxi_assets.assets.ingestion import raw_trips, taxi_zones
from taxi_assets.assets.traffic import labelled_traffic
from taxi_assets.definitions import alerts_from_env, build_resources
from taxi_assets.drift.checks import ACCURACY, FEATURE_DRIFT, PREDICTION_DRIFT, VALIDATION_FAILURES
from taxi_assets.lifecycle.registry import ModelRegistry, model_name
from taxi_assets.modeling.evaluation import regression_metrics
from taxi_assets.modeling.features import FEATURES
from taxi_assets.modeling.serving_model import FareModel
from taxi_assets.partitions import month_service_key
from taxi_assets.resources import DataLake
from taxi_assets.sensors import new_error_failures, retrain_on_failed_checks
from taxi_assets_tests.conftest import TLC_DIR
from taxi_assets_tests.serving.conftest import Trained, register
from taxi_serving.logging_sink import PredictionLogSink
from taxi_serving.service import log_row

SMALL_WINDOW = {"min_rows": 100, "min_labelled_rows": 100}


def champion(home: Path, trained: Trained) -> tuple[str, np.ndarray]:
    registry = ModelRegistry(f"sqlite:///{home / 'mlflow' / 'mlflow.db'}", (home / "mlflow" / "artifacts").as_uri())
    version = register(registry, trained, "a")
    predictions = FareModel.load(trained.serving_dirs["a"]).predict(trained.holdout)
    rmse = regression_metrics(trained.holdout["fare_amount"].to_numpy(), predictions).rmse
    registry.tag_version(model_name("green"), version, {"metrics": {"rmse": rmse}})
    return version, predictions


def log_traffic(
    home: Path,
    rows: pd.DataFrame,
    predictions: np.ndarray,
    version: str,
    actual: np.ndarray,
    rejected: int,
    database_url: str | None = None,
) -> None:
    url = database_url or f"sqlite:///{home / 'platform.db'}"
    sink = PredictionLogSink(url, home / "spill", flush_seconds=0.05)
    sink.start()
    tag = datetime.now(UTC).strftime("%H%M%S%f")
    for index, (record, prediction) in enumerate(
        zip(rows[list(FEATURES)].to_dict("records"), predictions, strict=True)
    ):
        sink.submit(
            log_row(
                request_id=f"{tag}-{index}",
                endpoint="/predict",
                status="ok",
                status_code=200,
                features={str(k): v for k, v in record.items()},
                arm="champion",
                model_version=version,
                prediction=float(prediction),
            )
        )
    for index in range(rejected):
        sink.submit(
            log_row(request_id=f"{tag}-rejected-{index}", endpoint="/predict", status="rejected", status_code=422)
        )
    assert sink.flush()
    for index, fare in enumerate(actual):
        assert sink.record_feedback(f"{tag}-{index}", float(fare))[0] == "ok"
    sink.stop()


def judge(
    home: Path, instance: dg.DagsterInstance | None = None, **config: object
) -> tuple[dict[str, dg.AssetCheckEvaluation], dict[str, object]]:
    result = dg.materialize(
        [drift_report],
        instance=instance,
        resources=build_resources({"TAXI_HOME": str(home)}),
        partition_key=datetime.now(UTC).strftime("%Y-%m-%d"),
        run_config={"ops": {"drift_report": {"config": {**SMALL_WINDOW, **config}}}},
    )
    checks = {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}
    (event,) = result.get_asset_materialization_events()
    metadata = {k: v.value for k, v in event.step_materialization_data.materialization.metadata.items()}
    return checks, metadata


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
            resources={"lake": lake, "alerts": alerts_from_env({"TAXI_HOME": str(tmp_path)})},
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
        assert request.run_config["ops"]["training_set"]["config"] == {"months": ["2023-02"], "include_traffic": True}
        assert request.run_key == f"retrain-green-{json.loads(result.cursor or '{}')['last_id']}"

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
