"""The MLflow versions of a service's model: the name rule, registration, aliases, tags, and loading a version back."""

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from mlflow.exceptions import MlflowException

from taxi_assets.features.columns import EXAMPLE_TRIP
from taxi_assets.model.versions import CHAMPION, PREVIOUS_CHAMPION, ModelRegistry, experiment_name, model_name
from taxi_assets_tests.champions import Trained, register, tiny_champions
from taxi_assets_tests.serving.servers import free_port
from taxi_tools import deploy


def test_each_service_has_one_model_and_one_experiment_by_the_same_name() -> None:
    assert model_name("green") == experiment_name("green") == "taxi-fare-green"
    assert model_name("yellow") == "taxi-fare-yellow"
    with pytest.raises(ValueError, match="unknown TLC service 'fhv'"):
        model_name("fhv")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    return tiny_champions(tmp_path_factory.mktemp("tiny-champions"))


def test_versions_are_registered_aliased_tagged_and_load_as_they_were_exported(
    trained: Trained, tmp_path: Path
) -> None:
    registry = ModelRegistry(f"sqlite:///{tmp_path / 'mlflow.db'}", (tmp_path / "artifacts").as_uri())
    name = model_name("green")
    assert registry.alias(name, CHAMPION) is None
    first = register(registry, trained, "a")
    second = register(registry, trained, "b", alias=None)
    assert (first, second) == ("1", "2")
    assert registry.alias(name, CHAMPION) == "1"
    registry.set_alias(name, PREVIOUS_CHAMPION, first)
    registry.set_alias(name, CHAMPION, second)
    assert (registry.alias(name, CHAMPION), registry.alias(name, PREVIOUS_CHAMPION)) == ("2", "1")
    registry.delete_alias(name, PREVIOUS_CHAMPION)
    assert registry.alias(name, PREVIOUS_CHAMPION) is None
    registry.tag_version(name, second, {"decision.action": "promote"})
    assert registry.version_tags(name, second)["decision.action"] == "promote"
    loaded = registry.load_fare_model(name, second)
    exported = trained.serving_dirs["b"]
    assert loaded.spec.to_json() == (exported / "feature_spec.json").read_text()
    pyfunc = registry.load_pyfunc(name, first)
    assert pyfunc.model is not None
    assert pyfunc.model.predict_row(EXAMPLE_TRIP) != loaded.predict_row(EXAMPLE_TRIP)  # a and b differ by scale


@pytest.mark.slow  # starts an MLflow server
def test_through_an_mlflow_server_with_accounts_the_platform_registers_and_the_reader_only_reads(
    trained: Trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deployment's MLflow: a server with the basic-auth app, the accounts set as its `mlflow` service sets them."""
    env = {
        "MLFLOW_AUTH_CONFIG_PATH": str(tmp_path / "basic_auth.ini"),
        "MLFLOW_AUTH_DATABASE_URI": f"sqlite:///{tmp_path / 'auth.db'}",
        "MLFLOW_PLATFORM_PASSWORD": "platform-0123456789ab",
        "MLFLOW_READER_PASSWORD": "reader-0123456789abcd",
    }
    deploy.mlflow_users(env)
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--app-name",
            "basic-auth",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'mlflow.db'}",
            "--serve-artifacts",
            "--artifacts-destination",
            str(tmp_path / "artifacts"),
        ],
        env={**os.environ, **env, "MLFLOW_FLASK_SERVER_SECRET_KEY": "0123456789abcdefgh"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{uri}/health", timeout=2).ok:
                    break
            time.sleep(0.5)
        name = model_name("green")
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "platform")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", env["MLFLOW_PLATFORM_PASSWORD"])
        platform = ModelRegistry(uri)
        first = register(platform, trained, "a")  # a logged model (models:/m-...) registered over REST
        assert platform.alias(name, CHAMPION) == first
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "reader")
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", env["MLFLOW_READER_PASSWORD"])
        reader = ModelRegistry(uri)
        assert reader.alias(name, CHAMPION) == first
        assert reader.load_fare_model(name, first).predict_row(EXAMPLE_TRIP) > 0  # artifacts served to the reader
        with pytest.raises(MlflowException, match="Permission denied"):
            reader.set_alias(name, CHAMPION, "2")
        with pytest.raises(MlflowException, match="Permission denied"):
            reader.client.create_model_version(name, "models:/m-0", run_id=None)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "a-wrong-password-0123")
        assert requests.get(f"{uri}/api/2.0/mlflow/registered-models/search", timeout=10).status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=30)
