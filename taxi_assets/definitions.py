"""The code location's composition root: the one place that builds ``Definitions``.

It reads the environment for the code location (the CLI and the demo pass their own environment to
``build_defs`` and read the few settings of their own, such as the API's port, themselves).

``defs`` is loaded lazily by Dagster (``@dg.definitions``), so the environment is read when the code location
loads, never at import. Environment variables:

* ``TAXI_HOME``: the data home (default ``.taxi`` under the working directory); the lake lives in ``lake/``.
* ``TAXI_TRIPS_DIR``: a local folder of TLC files; when unset, files are downloaded from the TLC.
* ``TAXI_TLC_URL``: the host to download from (default the TLC's own; a mirror with the same layout works).
* ``MLFLOW_TRACKING_URI``: an MLflow server; when unset, a SQLite file and artifact folder under the data home.
* ``TAXI_DATABASE_URL``: the platform database (prediction log, promotion decisions, alert history); default
  SQLite under the data home.
* ``TAXI_ALERT_URLS``: where alerts go besides the log and the history table, apprise URLs separated by spaces
  (``slack://...``, ``mailto://...``, ``json://host/path``, any apprise service), each tried again on failure.
* ``TAXI_ALERT_WEBHOOK_URL``: a Slack-compatible webhook for alerts (the older setting, sent through apprise too).
* ``TAXI_ALERT_SMTP_HOST``, ``TAXI_ALERT_SMTP_PORT``, ``TAXI_ALERT_SMTP_USER``, ``TAXI_ALERT_SMTP_PASSWORD``,
  ``TAXI_ALERT_SMTP_STARTTLS``, ``TAXI_ALERT_EMAIL_FROM``, ``TAXI_ALERT_EMAIL_TO`` (comma-separated): email alerts.
* ``TAXI_LAKE_ROOT``: the parquet lake, a folder, a ``file://`` URL or an object-store URL such as
  ``s3://bucket/lake`` (default ``lake/`` under the data home; object stores take the usual ``AWS_*`` settings).
* ``TAXI_SPARK_MASTER``: where Spark runs (default ``local[2]``; ``spark://host:7077``, ``yarn``, ``k8s://...``).
* ``TAXI_SPARK_REMOTE``: a Spark Connect server (``sc://host:15002``); takes precedence over the master.
* ``TAXI_SPARK_CONF``: further Spark settings, ``spark.key=value`` pairs separated by ``;``.
* ``TAXI_RETRAIN_MONTHS``: how many of the newest complete TLC months a retraining adds to the labelled traffic
  (default 2); ``TAXI_RETRAIN_COOLDOWN_SECONDS``: least time between two retrainings of a service (default 6 h).
* ``TAXI_MONITOR_WINDOW_MINUTES``: length of a monitoring window (default 60; a divisor of an hour or whole hours
  dividing a day); ``TAXI_MONITOR_START``: the first window (``YYYY-MM-DD-HH:MM`` UTC, default 2026-01-01-00:00);
  ``TAXI_MONITOR_ACCURACY_HOURS``: the trailing period of matured labels accuracy is judged on (default 24).
* ``TAXI_LOG_FORMAT``: the runs' console log and Spark's, ``json`` (default: one JSON object per line) or ``text``.
* ``TAXI_FRESHNESS_RETRAIN``: ``1`` runs the freshness retraining schedule from the start (default off);
  ``TAXI_FRESHNESS_CRON``: when (default Mondays 06:00 UTC).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import dagster as dg

from taxi_assets import constants
from taxi_assets.alerting import alert_targets
from taxi_assets.assets.features import labelled_traffic, training_set, trip_features
from taxi_assets.assets.ingestion import raw_trips, taxi_zones
from taxi_assets.assets.monitoring import build_drift_report, reference_profile
from taxi_assets.assets.promotion import promotion_decision, rollback_job
from taxi_assets.assets.rollout import online_evaluation
from taxi_assets.assets.serving import prediction_log, served_champion
from taxi_assets.assets.training import challenger_model
from taxi_assets.automation import (
    build_freshness_schedule,
    build_monitor_schedule,
    ingest_new_months,
    judge_live_rollouts,
)
from taxi_assets.data_home import DataHome
from taxi_assets.jobs import (
    ingest_job,
    monitor_job,
    reference_job,
    retrain_job,
    rollout_job,
    train_job,
    zones_job,
)
from taxi_assets.logs import JSON, log_format
from taxi_assets.resources import (
    AlertsResource,
    DataLake,
    HttpTripSource,
    LocalTripSource,
    MlflowResource,
    MonitoringPolicy,
    PlatformDatabase,
    RetrainingPolicy,
    RolloutPolicy,
    RolloutSettings,
    SparkResource,
    TripSource,
    parse_spark_conf,
    spark_config,
)
from taxi_assets.run_logging import console_logger
from taxi_assets.sensors import retrain_on_failed_checks


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
    home = DataHome.from_env(env)
    return MlflowResource(tracking_uri=home.tracking_uri, artifact_root=(home.mlflow_dir / "artifacts").as_uri())


def platform_db_from_env(env: Mapping[str, str]) -> PlatformDatabase:
    """``TAXI_DATABASE_URL``, else SQLite under the data home."""
    return PlatformDatabase(url=DataHome.from_env(env).database_url)


def alerts_from_env(env: Mapping[str, str]) -> AlertsResource:
    """Alert targets from ``TAXI_ALERT_URLS`` and the older variables; the history in the platform database."""
    return AlertsResource(database_url=platform_db_from_env(env).url, urls=alert_targets(env))


def lake_from_env(env: Mapping[str, str]) -> DataLake:
    """``TAXI_LAKE_ROOT`` (a folder, file:// or object-store URL), else ``lake/`` under the data home.

    With an object-store root, downloads and the model export are staged in ``scratch/`` under the data home.
    """
    home = DataHome.from_env(env)
    return DataLake(root=home.lake_root, scratch=str(home.scratch))


def spark_from_env(env: Mapping[str, str]) -> SparkResource:
    """``TAXI_SPARK_REMOTE`` (Spark Connect), else ``TAXI_SPARK_MASTER`` (default local[2]); ``TAXI_SPARK_CONF``."""
    config = spark_config(
        master=env.get("TAXI_SPARK_MASTER") or None,
        remote=env.get("TAXI_SPARK_REMOTE") or None,
        extra=parse_spark_conf(env.get("TAXI_SPARK_CONF") or ""),
        log_format=log_format(env, JSON),
    )
    return SparkResource(spark_config=config)


def retraining_from_env(env: Mapping[str, str]) -> RetrainingPolicy:
    """``TAXI_RETRAIN_MONTHS`` and ``TAXI_RETRAIN_COOLDOWN_SECONDS``, else the defaults in constants.py."""
    return RetrainingPolicy(
        months=int(env.get("TAXI_RETRAIN_MONTHS") or constants.RETRAIN_MONTH_COUNT),
        cooldown_seconds=float(env.get("TAXI_RETRAIN_COOLDOWN_SECONDS") or constants.RETRAIN_COOLDOWN_SECONDS),
    )


def monitoring_from_env(env: Mapping[str, str]) -> MonitoringPolicy:
    """``TAXI_MONITOR_WINDOW_MINUTES``, ``TAXI_MONITOR_START`` and ``TAXI_MONITOR_ACCURACY_HOURS``, else defaults."""
    policy = MonitoringPolicy(
        window_minutes=int(env.get("TAXI_MONITOR_WINDOW_MINUTES") or constants.MONITORING_WINDOW_MINUTES),
        start=env.get("TAXI_MONITOR_START") or constants.MONITORING_START,
        accuracy_lookback_hours=float(env.get("TAXI_MONITOR_ACCURACY_HOURS") or constants.ACCURACY_LOOKBACK_HOURS),
    )
    policy.windows().partitions  # noqa: B018  (a window length that does not tile a day fails here, by name)
    return policy


def per_service(text: str) -> dict[str, str]:
    """A setting for every service (``shadow,ab``), or per service (``green:shadow;yellow:ab``)."""
    if ":" not in text:
        return dict.fromkeys(constants.SERVICES, text.strip())
    pairs = (item.split(":", 1) for item in text.split(";") if item.strip())
    return {constants.known_service(service.strip()): value.strip() for service, value in pairs}


def rollout_from_env(env: Mapping[str, str]) -> RolloutPolicy:
    """``TAXI_ROLLOUT_STAGES`` and the other ``TAXI_ROLLOUT_*`` settings, each for every service or per service.

    Each takes one value for every service or ``service:value`` pairs separated by ``;``; what is unset keeps
    the defaults in constants.py.
    """
    fields: dict[str, dict[str, str]] = {service: {} for service in constants.SERVICES}
    for field in RolloutSettings.model_fields:
        text = env.get(f"TAXI_ROLLOUT_{field.upper()}")
        for service, value in per_service(text or "").items() if text else ():
            fields[service][field] = value
    policy = RolloutPolicy(
        services={service: RolloutSettings.model_validate(values) for service, values in fields.items()}
    )
    for service in constants.SERVICES:
        policy.plan(service)  # stages or limits out of range fail here, by name
    return policy


def build_resources(env: Mapping[str, str]) -> dict[str, object]:
    """The resources for an environment (tests pass their own mapping)."""
    return {
        "trip_source": trip_source_from_env(env),
        "lake": lake_from_env(env),
        "pyspark": spark_from_env(env),
        "mlflow": mlflow_from_env(env),
        "platform_db": platform_db_from_env(env),
        "alerts": alerts_from_env(env),
        "retraining": retraining_from_env(env),
        "monitoring": monitoring_from_env(env),
        "rollout": rollout_from_env(env),
    }


def build_defs(env: Mapping[str, str]) -> dg.Definitions:
    """Everything the code location holds, wired to the stores the environment selects."""
    windows = monitoring_from_env(env).windows()
    freshness = (env.get("TAXI_FRESHNESS_RETRAIN") or "").lower() in ("1", "true", "yes")
    return dg.Definitions(
        assets=[
            prediction_log,
            served_champion,
            raw_trips,
            taxi_zones,
            trip_features,
            labelled_traffic,
            training_set,
            reference_profile,
            challenger_model,
            promotion_decision,
            online_evaluation,
            build_drift_report(windows),
        ],
        jobs=[ingest_job, zones_job, reference_job, train_job, retrain_job, monitor_job, rollback_job, rollout_job],
        schedules=[
            build_monitor_schedule(windows),
            build_freshness_schedule(env.get("TAXI_FRESHNESS_CRON") or constants.FRESHNESS_CRON, freshness),
        ],
        sensors=[retrain_on_failed_checks, ingest_new_months, judge_live_rollouts],
        resources=build_resources(env),
        loggers={"console": console_logger(log_format(env, JSON))},
        # every step of a run in the run's own process: one code-location load and, for the Spark jobs, one
        # Spark application (one JVM) per run, not one per step
        executor=dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The code location Dagster loads (workspace.yaml)."""
    return build_defs(os.environ)
