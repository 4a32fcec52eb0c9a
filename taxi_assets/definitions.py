"""The code location: the only place that builds ``Definitions`` and that reads the environment.

``defs`` is loaded lazily by Dagster (``@dg.definitions``), so the environment is read when the code location
loads, never at import. Environment variables:

* ``TAXI_HOME``: the data home (default ``.taxi`` under the working directory); the lake lives in ``lake/``.
* ``TAXI_TRIPS_DIR``: a local folder of TLC files; when unset, files are downloaded from the TLC.
* ``TAXI_TLC_URL``: the host to download from (default the TLC's own; a mirror with the same layout works).
* ``MLFLOW_TRACKING_URI``: an MLflow server; when unset, a SQLite file and artifact folder under the data home.
* ``TAXI_DATABASE_URL``: the platform database (promotion decisions); default SQLite under the data home.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import dagster as dg
from dagster_pyspark import LazyPySparkResource

from taxi_assets import constants
from taxi_assets.assets.drift import drift_report
from taxi_assets.assets.features import training_set, trip_features
from taxi_assets.assets.ingestion import raw_trips, taxi_zones
from taxi_assets.assets.monitoring import reference_profile
from taxi_assets.assets.promotion import promotion_decision, rollback_job
from taxi_assets.assets.training import challenger_model
from taxi_assets.resources import (
    DataLake,
    HttpTripSource,
    LocalTripSource,
    MlflowResource,
    PlatformDatabase,
    TripSource,
)
from taxi_assets.sensors import retrain_on_failed_checks

DEFAULT_HOME = ".taxi"

ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.assets(raw_trips, trip_features),
    description="One month of one service: TLC file -> canonical raw trips -> model features.",
)
zones_job = dg.define_asset_job(
    "zones_job", selection=dg.AssetSelection.assets(taxi_zones), description="Refresh the zone lookup."
)
reference_job = dg.define_asset_job(
    "reference_job",
    selection=dg.AssetSelection.assets(training_set, reference_profile),
    description="One service: training window -> train/test split -> reference profile.",
)
monitor_job = dg.define_asset_job(
    "monitor_job",
    selection=dg.AssetSelection.assets(drift_report),
    description="One day of the prediction log against the champion's reference, and its checks.",
)
train_job = dg.define_asset_job(
    "train_job",
    selection=dg.AssetSelection.assets(training_set, reference_profile, challenger_model, promotion_decision),
    description="One service: split the window, fit its profile, train and register a challenger, decide on it.",
)


def data_home(env: Mapping[str, str]) -> Path:
    """The data home: ``TAXI_HOME`` or ``.taxi`` under the working directory."""
    return Path(env.get("TAXI_HOME") or DEFAULT_HOME).absolute()


def trip_source_from_env(env: Mapping[str, str]) -> TripSource:
    """A local folder when ``TAXI_TRIPS_DIR`` is set, the TLC download otherwise."""
    trips_dir = env.get("TAXI_TRIPS_DIR")
    if trips_dir:
        return LocalTripSource(root=str(Path(trips_dir).absolute()))
    return HttpTripSource(base_url=env.get("TAXI_TLC_URL") or constants.TLC_BASE_URL)


def mlflow_from_env(env: Mapping[str, str]) -> MlflowResource:
    """An MLflow server when ``MLFLOW_TRACKING_URI`` is set, else SQLite and artifacts under the data home."""
    tracking_uri = env.get("MLFLOW_TRACKING_URI")
    if tracking_uri:
        return MlflowResource(tracking_uri=tracking_uri)
    home = data_home(env)
    return MlflowResource(
        tracking_uri=f"sqlite:///{home / 'mlflow' / 'mlflow.db'}",
        artifact_root=(home / "mlflow" / "artifacts").as_uri(),
    )


def platform_db_from_env(env: Mapping[str, str]) -> PlatformDatabase:
    """``TAXI_DATABASE_URL``, else SQLite under the data home."""
    return PlatformDatabase(url=env.get("TAXI_DATABASE_URL") or f"sqlite:///{data_home(env) / 'platform.db'}")


def build_resources(env: Mapping[str, str]) -> dict[str, object]:
    """The resources for an environment (tests pass their own mapping)."""
    return {
        "trip_source": trip_source_from_env(env),
        "lake": DataLake(root=str(data_home(env) / "lake")),
        "pyspark": LazyPySparkResource(spark_config=dict(constants.SPARK_CONFIG)),
        "mlflow": mlflow_from_env(env),
        "platform_db": platform_db_from_env(env),
    }


def build_defs(env: Mapping[str, str]) -> dg.Definitions:
    """Everything the code location holds, wired to the stores the environment selects."""
    return dg.Definitions(
        assets=[
            raw_trips,
            taxi_zones,
            trip_features,
            training_set,
            reference_profile,
            challenger_model,
            promotion_decision,
            drift_report,
        ],
        jobs=[ingest_job, zones_job, reference_job, train_job, monitor_job, rollback_job],
        sensors=[retrain_on_failed_checks],
        resources=build_resources(env),
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The code location Dagster loads (workspace.yaml)."""
    return build_defs(os.environ)
