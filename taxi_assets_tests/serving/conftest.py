"""The API under test: its settings, and an app serving a real champion (``champions.py``) through a test client."""

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from taxi_assets.model.versions import ModelRegistry
from taxi_assets_tests.champions import Trained, register
from taxi_assets_tests.serving.support import Served, make_settings
from taxi_assets_tests.support import missing
from taxi_serving.app import create_app


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


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs: a disk that really fills (mounting needs root, as CI has)."""
    if os.geteuid() != 0:
        missing("root, to mount a small tmpfs", "run the tests as root")
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
