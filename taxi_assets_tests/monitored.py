"""Monitoring fixtures: champions in a data home, traffic logged as the API logs it, a window judged."""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from taxi_assets.assets.monitoring import build_drift_report
from taxi_assets.definitions import alerts_from_env, build_resources
from taxi_assets.features.columns import FEATURES
from taxi_assets.model.evaluation import regression_metrics
from taxi_assets.model.fare_model import FareModel
from taxi_assets.model.versions import ModelRegistry, model_name
from taxi_assets.partitions import MonitoringWindows
from taxi_assets.resources import DataLake, LocalTripSource, RetrainingPolicy
from taxi_assets_tests.champions import Trained, register
from taxi_assets_tests.support import TLC_DIR
from taxi_serving.prediction_log.sink import PredictionLogSink
from taxi_serving.service import log_row

SMALL_WINDOW = {"min_rows": 100, "min_labelled_rows": 100}
# the monitoring tests judge a day of traffic (their replays never straddle a window's end; hours could)
DAILY = MonitoringWindows(24 * 60)
DAILY_ENV = {"TAXI_MONITOR_WINDOW_MINUTES": str(DAILY.minutes)}
drift_report = build_drift_report(DAILY)


def today(service: str = "green") -> str:
    """The partition key of today's window of ``service``."""
    return str(DAILY.key(DAILY.containing(datetime.now(UTC)), service))


def champion(home: Path, trained: Trained, name: str = "a", service: str = "green") -> tuple[str, np.ndarray]:
    """Register one of the trained models as ``service``'s champion in the data home; its holdout predictions."""
    registry = ModelRegistry(f"sqlite:///{home / 'mlflow' / 'mlflow.db'}", (home / "mlflow" / "artifacts").as_uri())
    version = register(registry, trained, name, service=service)
    predictions = FareModel.load(trained.serving_dirs[name]).predict(trained.holdout)
    rmse = regression_metrics(trained.holdout["fare_amount"].to_numpy(), predictions).rmse
    registry.tag_version(model_name(service), version, {"metrics": {"rmse": rmse}})
    return version, predictions


def log_traffic(
    home: Path,
    rows: pd.DataFrame,
    predictions: np.ndarray,
    version: str,
    actual: np.ndarray,
    rejected: int,
    database_url: str | None = None,
    service: str = "green",
) -> None:
    """Log rows as ``service``'s API logs them (predictions, rejections), then their true fares."""
    url = database_url or f"sqlite:///{home / 'platform.db'}"
    sink = PredictionLogSink(url, home / "journal", flush_seconds=0.05, service=service)
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
    home: Path, instance: dg.DagsterInstance | None = None, service: str = "green", **config: object
) -> tuple[dict[str, dg.AssetCheckEvaluation], dict[str, object]]:
    """Materialize today's drift_report of ``service``; its check evaluations and metadata."""
    result = dg.materialize(
        [drift_report],
        instance=instance,
        resources=build_resources({"TAXI_HOME": str(home), **DAILY_ENV}),
        partition_key=today(service),
        run_config={"ops": {"drift_report": {"config": {**SMALL_WINDOW, **config}}}},
    )
    checks = {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}
    (event,) = result.get_asset_materialization_events()
    metadata = {k: v.value for k, v in event.step_materialization_data.materialization.metadata.items()}
    return checks, metadata


def sensor_resources(home: Path, lake: DataLake, months: int = 1, trips: Path = TLC_DIR) -> dict[str, object]:
    """What the retraining sensor is given: the lake, the alerts, a local trip source and the retraining policy."""
    return {
        "lake": lake,
        "alerts": alerts_from_env({"TAXI_HOME": str(home)}),
        "trip_source": LocalTripSource(root=str(trips)),
        "retraining": RetrainingPolicy(months=months),
    }
