"""What the serving tests share besides fixtures; ``conftest.py`` holds the fixtures, and no test imports it."""

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from litestar import Litestar
from litestar.testing import TestClient

from taxi_assets.features.columns import FEATURES
from taxi_assets.model.versions import ModelRegistry
from taxi_serving.settings import Settings

API_KEY = "test-key-1"


HEADERS = {"X-API-Key": API_KEY}


def make_settings(home: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "tracking_uri": f"sqlite:///{home / 'mlflow.db'}",
        "service": "green",
        "database_url": f"sqlite:///{home / 'platform.db'}",
        "cache_dir": home / "cache",
        "journal_dir": home / "journal",
        "api_keys": (API_KEY, "test-key-2"),
        "poll_interval_seconds": 3600.0,
        "log_flush_seconds": 0.05,
        "replay_seconds": 0.2,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@dataclass
class Served:
    """A registry with a champion and the app serving it."""

    home: Path
    registry: ModelRegistry
    champion_version: str
    app: Litestar
    client: TestClient  # type: ignore[type-arg]


def trip(rows: pd.DataFrame, index: int = 0) -> dict[str, object]:
    """One holdout row as a JSON request body."""
    record = rows.iloc[index][list(FEATURES)].to_dict()
    return {key: (value.item() if hasattr(value, "item") else value) for key, value in record.items()}
