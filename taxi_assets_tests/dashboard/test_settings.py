"""The dashboard's settings: the same stores as the platform's, its keys by name, and its own defaults."""

from pathlib import Path

from taxi_dashboard.settings import settings_from_env


def test_keys_are_named_pairs_or_numbered_bare_keys(tmp_path: Path) -> None:
    settings = settings_from_env({"TAXI_HOME": str(tmp_path), "TAXI_DASHBOARD_KEYS": "ana:k1, k2 ,bo:k3"})
    assert settings.keys == {"k1": "ana", "k2": "user 2", "k3": "bo"}


def test_the_defaults_are_those_of_make_demo_and_make_dev(tmp_path: Path) -> None:
    settings = settings_from_env({"TAXI_HOME": str(tmp_path)})
    assert settings.keys == {}
    assert settings.cache_seconds == 30
    assert settings.dagster_url == settings.dagster_ui_url == "http://127.0.0.1:3000"
    assert settings.mlflow_url is None
    assert settings.mlflow_version_url("taxi-fare-green", "3") is None
    assert settings.database_url == f"sqlite:///{tmp_path / 'platform.db'}"


def test_links_and_the_cache_follow_their_variables(tmp_path: Path) -> None:
    settings = settings_from_env(
        {
            "TAXI_HOME": str(tmp_path),
            "TAXI_DAGSTER_URL": "http://dagster:3000/",
            "TAXI_DAGSTER_UI_URL": "https://ops.example/dagster/",
            "TAXI_MLFLOW_URL": "https://ops.example/mlflow/",
            "TAXI_DASHBOARD_CACHE_SECONDS": "0",
        }
    )
    assert settings.dagster_url == "http://dagster:3000"
    assert settings.dagster_run_url("abc") == "https://ops.example/dagster/runs/abc"
    assert (
        settings.mlflow_version_url("taxi-fare-green", "3")
        == "https://ops.example/mlflow/#/models/taxi-fare-green/versions/3"
    )
    assert settings.cache_seconds == 0
