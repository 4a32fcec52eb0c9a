"""The data home's layout, spelled once: where each store lives when no environment variable points elsewhere.

Every process kind (the code location, the API, the dashboard, the tools) builds its settings from the same
variables; this module is the one place that says what they default to under ``TAXI_HOME``::

    .taxi/                      TAXI_HOME (default: .taxi under the working directory)
        platform.db             the platform database, unless TAXI_DATABASE_URL
        lake/                   the data lake, unless TAXI_LAKE_ROOT
        scratch/                Spark's and the lake's temporary files
        mlflow/mlflow.db        MLflow tracking and registry, unless MLFLOW_TRACKING_URI
        mlflow/artifacts/       MLflow's artifacts (with the embedded store)
        dagster/                the Dagster instance, unless DAGSTER_HOME
        serving/journal/        the API workers' prediction log journals
        serving/model_cache/    the API's copies of the served models
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

DEFAULT_HOME: Final = ".taxi"


@dataclass(frozen=True)
class DataHome:
    """The data home and the defaults of each store in it, as read from one environment."""

    root: Path
    env: Mapping[str, str]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DataHome:
        """``TAXI_HOME``, or ``.taxi`` under the working directory."""
        return cls(Path(env.get("TAXI_HOME") or DEFAULT_HOME).absolute(), env)

    @property
    def database_url(self) -> str:
        """The platform database: ``TAXI_DATABASE_URL`` or a SQLite file in the home."""
        return self.env.get("TAXI_DATABASE_URL") or f"sqlite:///{self.root / 'platform.db'}"

    @property
    def lake_root(self) -> str:
        """The lake: ``TAXI_LAKE_ROOT`` (a folder or an object store URL) or ``lake/`` in the home."""
        return self.env.get("TAXI_LAKE_ROOT") or str(self.root / "lake")

    @property
    def scratch(self) -> Path:
        """Temporary files of Spark and the lake."""
        return self.root / "scratch"

    @property
    def mlflow_dir(self) -> Path:
        """The embedded MLflow store's folder."""
        return self.root / "mlflow"

    @property
    def tracking_uri(self) -> str:
        """MLflow: ``MLFLOW_TRACKING_URI`` or the embedded SQLite store in the home."""
        return self.env.get("MLFLOW_TRACKING_URI") or f"sqlite:///{self.mlflow_dir / 'mlflow.db'}"

    @property
    def dagster_home(self) -> Path:
        """The Dagster instance: ``DAGSTER_HOME`` or ``dagster/`` in the home."""
        return Path(self.env["DAGSTER_HOME"]) if self.env.get("DAGSTER_HOME") else self.root / "dagster"

    @property
    def journal_dir(self) -> Path:
        """The API workers' journals."""
        return self.root / "serving" / "journal"

    @property
    def model_cache(self) -> Path:
        """The API's copies of the served models."""
        return self.root / "serving" / "model_cache"
