"""The champion as the API loads it: from its cache while the registry is away; the registered pyfunc agrees."""

import socket
import time

import pytest
from litestar.testing import TestClient

from taxi_assets.features.columns import FEATURES, INTEGER_FEATURES
from taxi_assets.model.versions import CHAMPION
from taxi_assets_tests.champions import Trained
from taxi_assets_tests.serving.support import HEADERS, Served, make_settings, trip
from taxi_serving.app import create_app


@pytest.mark.slow  # waits for the registry client's timeouts: the full suite has it
@pytest.mark.parametrize("failure", ["refused", "silent"])
def test_an_unreachable_registry_keeps_the_cached_champion_serving_within_seconds(
    served: Served, trained: Trained, failure: str
) -> None:
    # a port where nothing listens (refused at once), or a listener that never answers (every call times out)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    if failure == "silent":
        listener.listen(16)
    port = listener.getsockname()[1]
    if failure == "refused":
        listener.close()
    # same data home and model cache as the running app, the default retry policy, a registry that fails
    settings = make_settings(served.home, tracking_uri=f"http://127.0.0.1:{port}")
    started = time.monotonic()
    try:
        with TestClient(create_app(settings)) as client:
            startup = time.monotonic() - started
            ready = client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["registry_reachable"] is False
            assert ready.json()["source"] == f"cache:models:/{settings.model_name}/{served.champion_version}"
            assert str(served.home) not in ready.text  # no path of the machine in a response
            assert ready.json()["champion_version"] == served.champion_version
            response = client.post("/predict", json=trip(trained.holdout), headers=HEADERS)
            assert response.status_code == 200
            assert response.json()["model_version"] == served.champion_version
            # the cache keeps the version's trees too: the cached champion still explains its fares
            explained = client.post("/predict?explain=true", json=trip(trained.holdout), headers=HEADERS).json()
            assert explained["fare"] == response.json()["fare"]
            assert explained["explanation"]["contributions"]["trip_distance"] != 0
            assert "taxi_api_registry_reachable 0.0" in client.get("/metrics").text
    finally:
        listener.close()
    # the bound of the default policy (1 retry, 3 s timeout, backoff 1): MLflow's own default took ~250 s
    assert startup < 10, startup


def test_the_registered_pyfunc_takes_integer_columns_and_agrees_with_the_api(served: Served, trained: Trained) -> None:
    import mlflow

    rows = trained.holdout[list(FEATURES)].head(20).copy()
    for column in INTEGER_FEATURES:
        rows[column] = rows[column].round().astype("int64")  # what a user builds: pickup_hour=8, not 8.0
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{served.home / 'mlflow.db'}")
    try:
        model = mlflow.pyfunc.load_model(f"models:/taxi-fare-green@{CHAMPION}")
        schema = {spec.name: spec.type.name for spec in model.metadata.get_input_schema().inputs}
        offline = model.predict(rows)
    finally:
        mlflow.set_tracking_uri(previous)
    assert schema["pickup_hour"] == "long"
    assert schema["trip_distance"] == "double"
    trips = [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in rows.to_dict("records")]
    served_fares = [
        p["fare"]
        for p in served.client.post("/predict/batch", json={"trips": trips}, headers=HEADERS).json()["predictions"]
    ]
    assert list(offline) == pytest.approx(served_fares, abs=1e-9)
