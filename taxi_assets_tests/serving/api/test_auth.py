"""API keys: the header or a bearer token, several keys, and keys rotated from a file without a restart."""

import time
from pathlib import Path

from litestar.testing import TestClient

from taxi_assets.model.versions import ModelRegistry
from taxi_assets_tests.champions import Trained, register
from taxi_assets_tests.serving.support import Served, make_settings, trip
from taxi_serving.app import create_app


def test_bearer_tokens_and_a_second_key_are_accepted(served: Served, trained: Trained) -> None:
    body = trip(trained.holdout)
    assert served.client.post("/predict", json=body, headers={"Authorization": "Bearer test-key-2"}).status_code == 200
    assert served.client.get("/model").status_code == 401
    assert served.client.get("/healthz").status_code == 200


def test_api_keys_rotate_from_a_file_without_restart(trained: Trained, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("first\n")
    settings = make_settings(tmp_path, api_keys=(), api_keys_file=keys)
    register(ModelRegistry(settings.tracking_uri, (tmp_path / "artifacts").as_uri()), trained, "a")
    with TestClient(create_app(settings)) as client:
        body = trip(trained.holdout)
        assert client.post("/predict", json=body, headers={"X-API-Key": "first"}).status_code == 200
        time.sleep(0.01)
        keys.write_text("second\n")
        import os

        os.utime(keys, (time.time() + 5, time.time() + 5))
        assert client.post("/predict", json=body, headers={"X-API-Key": "first"}).status_code == 401
        assert client.post("/predict", json=body, headers={"X-API-Key": "second"}).status_code == 200
