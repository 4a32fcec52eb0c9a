"""The platform database (promotion decisions, prediction log, alerts, incidents), as a resource."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from taxi_assets.registry.decisions import DecisionStore


class PlatformDatabase(dg.ConfigurableResource):
    """The platform's own tables (promotion decisions): SQLite under the data home, or Postgres."""

    url: str = Field(description="SQLAlchemy URL, e.g. sqlite:///.taxi/platform.db or postgresql+psycopg2://...")

    def decisions(self) -> DecisionStore:
        """The promotion decision store."""
        if self.url.startswith("sqlite:///"):
            Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return DecisionStore(self.url)
