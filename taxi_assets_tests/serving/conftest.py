"""The API under test: its settings, and an app serving a real champion (``champions.py``) through a test client."""

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from taxi_assets.features.columns import FEATURES
from taxi_assets.registry.models import ModelRegistry
from taxi_assets_tests.champions import Trained, register
from taxi_serving.app import create_app
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


@pytest.fixture(scope="module")
def champion_registry(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """An MLflow registry with model "a" as champion, made once per module: its folder and the version."""
    home = tmp_path_factory.mktemp("registry")
    registry = ModelRegistry(f"sqlite:///{home / 'mlflow.db'}", (home / "artifacts").as_uri())
    return home, register(registry, trained, "a")


@pytest.fixture
def served(champion_registry: tuple[Path, str], tmp_path: Path) -> Iterator[Served]:
    """A fresh app on a copy of the module's registry (its own database, prediction log, cache and journal)."""
    template, version = champion_registry
    shutil.copy(template / "mlflow.db", tmp_path / "mlflow.db")
    settings = make_settings(tmp_path)
    registry = ModelRegistry(settings.tracking_uri, (template / "artifacts").as_uri())
    app = create_app(settings)
    with TestClient(app) as client:
        yield Served(tmp_path, registry, version, app, client)


def trip(rows: pd.DataFrame, index: int = 0) -> dict[str, object]:
    """One holdout row as a JSON request body."""
    record = rows.iloc[index][list(FEATURES)].to_dict()
    return {key: (value.item() if hasattr(value, "item") else value) for key, value in record.items()}
