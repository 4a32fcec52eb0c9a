"""The API through Litestar's test client, on a champion registered in MLflow.

The champion here is a small ensemble written by hand (``champions.tiny_champions``): these tests are about the
API's own behaviour, need no Spark and run in the fast tier. It is made and registered once for the package; each
test's app gets a copy of the registry (``served``). A Spark-trained champion is served in
``serving/test_spark_champion.py`` and by the real servers of ``serving/test_server.py`` and
``serving/test_contract.py``.
"""

from pathlib import Path

import pytest

from taxi_assets.model.versions import ModelRegistry
from taxi_assets_tests.champions import Trained, register, tiny_champions


@pytest.fixture(scope="package")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """The package's champions: no Spark (the session-wide ``trained`` of ``conftest.py`` trains them with it)."""
    return tiny_champions(tmp_path_factory.mktemp("tiny-champions"))


@pytest.fixture(scope="package")
def champion_registry(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """An MLflow registry with model "a" as champion, made once for the package: its folder and the version."""
    home = tmp_path_factory.mktemp("registry")
    registry = ModelRegistry(f"sqlite:///{home / 'mlflow.db'}", (home / "artifacts").as_uri())
    return home, register(registry, trained, "a")
