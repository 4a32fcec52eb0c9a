"""MLflow tracking and the model registry, as a resource."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from taxi_assets.model.versions import ModelRegistry


class MlflowResource(dg.ConfigurableResource):
    """MLflow tracking and model registry: a SQLite file under the data home, or a server.

    Experiments created here keep their artifacts under ``artifact_root`` (a local folder by default), so the
    embedded store needs no server and writes nothing outside the data home.
    """

    tracking_uri: str = Field(description="sqlite:///<TAXI_HOME>/mlflow/mlflow.db, or http(s)://server.")
    artifact_root: str | None = Field(
        default=None, description="Artifact location for new experiments; None lets the server decide."
    )

    def registry(self) -> ModelRegistry:
        """A registry client for this store."""
        if self.tracking_uri.startswith("sqlite:///"):
            Path(self.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return ModelRegistry(self.tracking_uri, self.artifact_root)
