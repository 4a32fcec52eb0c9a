"""The dashboard's settings, read from the environment in this one module.

The data it reads has the same variables as the platform's other processes: ``TAXI_HOME`` (data home, default
``.taxi``), ``TAXI_DATABASE_URL``, ``TAXI_LAKE_ROOT``, ``MLFLOW_TRACKING_URI``, ``TAXI_MONITOR_WINDOW_MINUTES``.
Its own: ``TAXI_DASHBOARD_KEYS`` (comma-separated ``name:key`` pairs, or bare keys; when set, every screen asks for
one and the name is who asked for a retraining), ``TAXI_DASHBOARD_RETRAIN_MONTHS`` (2),
``TAXI_DASHBOARD_CACHE_SECONDS`` (30: how long loads are reused), ``TAXI_DAGSTER_URL`` (the Dagster webserver the
retrain button calls, default ``http://127.0.0.1:3000``), ``TAXI_DAGSTER_UI_URL`` (the same as a browser reaches
it, for links; default ``TAXI_DAGSTER_URL``) and ``TAXI_MLFLOW_URL`` (the MLflow UI; without it a link shows the
version, not a URL).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from taxi_assets import constants
from taxi_assets.data_home import DataHome


@dataclass(frozen=True)
class DashboardSettings:
    """Where the dashboard reads from and links to, and who may act."""

    database_url: str
    lake_root: str
    tracking_uri: str
    window_minutes: int
    dagster_url: str
    dagster_ui_url: str
    mlflow_url: str | None
    # key -> the name of who holds it
    keys: dict[str, str]
    retrain_months: int
    # how long a screen's loads are reused before the lake and the database are read again
    cache_seconds: int = 30
    services: tuple[str, ...] = constants.SERVICES

    def dagster_run_url(self, run_id: str) -> str:
        """The Dagster UI page of one run."""
        return f"{self.dagster_ui_url}/runs/{run_id}"

    def mlflow_version_url(self, name: str, version: str) -> str | None:
        """The MLflow UI page of one registered model version (None without ``TAXI_MLFLOW_URL``)."""
        return f"{self.mlflow_url}/#/models/{name}/versions/{version}" if self.mlflow_url else None


def settings_from_env(env: Mapping[str, str]) -> DashboardSettings:
    """Settings from environment variables; the defaults are those of ``make demo`` and ``make dev``."""
    home = DataHome.from_env(env)
    entries = [entry.strip() for entry in (env.get("TAXI_DASHBOARD_KEYS") or "").split(",") if entry.strip()]
    keys = {}
    for number, entry in enumerate(entries, start=1):
        name, _, key = entry.partition(":") if ":" in entry else ("", "", entry)
        keys[key] = name or f"user {number}"
    mlflow_url = (env.get("TAXI_MLFLOW_URL") or "").rstrip("/")
    dagster_url = (env.get("TAXI_DAGSTER_URL") or "http://127.0.0.1:3000").rstrip("/")
    return DashboardSettings(
        database_url=home.database_url,
        lake_root=home.lake_root,
        tracking_uri=home.tracking_uri,
        window_minutes=int(env.get("TAXI_MONITOR_WINDOW_MINUTES") or constants.MONITORING_WINDOW_MINUTES),
        dagster_url=dagster_url,
        dagster_ui_url=(env.get("TAXI_DAGSTER_UI_URL") or dagster_url).rstrip("/"),
        mlflow_url=mlflow_url or None,
        keys=keys,
        retrain_months=int(env.get("TAXI_DASHBOARD_RETRAIN_MONTHS") or constants.RETRAIN_MONTH_COUNT),
        cache_seconds=int(env.get("TAXI_DASHBOARD_CACHE_SECONDS") or 30),
    )
