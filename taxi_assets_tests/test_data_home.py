"""The data home's layout: every store's default under TAXI_HOME, and each variable that moves one elsewhere."""

from pathlib import Path

import pytest

from taxi_assets.data_home import DataHome
from taxi_dashboard.settings import settings_from_env as dashboard_settings
from taxi_serving.settings import settings_from_env as api_settings


def test_every_store_defaults_to_its_place_in_the_home(tmp_path: Path) -> None:
    home = DataHome.from_env({"TAXI_HOME": str(tmp_path)})
    assert home.root == tmp_path
    assert home.database_url == f"sqlite:///{tmp_path / 'platform.db'}"
    assert home.lake_root == str(tmp_path / "lake")
    assert home.tracking_uri == f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    assert home.dagster_home == tmp_path / "dagster"
    assert home.journal_dir == tmp_path / "serving" / "journal"
    assert home.model_cache == tmp_path / "serving" / "model_cache"
    assert home.scratch == tmp_path / "scratch"


def test_each_variable_moves_its_store_and_only_its_store(tmp_path: Path) -> None:
    env = {
        "TAXI_HOME": str(tmp_path),
        "TAXI_DATABASE_URL": "postgresql+psycopg2://db/platform",
        "TAXI_LAKE_ROOT": "s3://lake",
        "MLFLOW_TRACKING_URI": "http://mlflow:5000",
        "DAGSTER_HOME": "/srv/dagster",
    }
    home = DataHome.from_env(env)
    assert (home.database_url, home.lake_root, home.tracking_uri) == (
        "postgresql+psycopg2://db/platform",
        "s3://lake",
        "http://mlflow:5000",
    )
    assert home.dagster_home == Path("/srv/dagster")
    assert home.journal_dir == tmp_path / "serving" / "journal"


def test_without_taxi_home_the_home_is_dot_taxi_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert DataHome.from_env({}).root == tmp_path / ".taxi"


def test_the_api_and_the_dashboard_read_the_same_stores(tmp_path: Path) -> None:
    env = {"TAXI_HOME": str(tmp_path), "TAXI_API_KEYS": "k"}
    api, dashboard = api_settings(env), dashboard_settings(env)
    assert api.database_url == dashboard.database_url == DataHome.from_env(env).database_url
    assert api.tracking_uri == dashboard.tracking_uri
    assert api.journal_dir == DataHome.from_env(env).journal_dir
