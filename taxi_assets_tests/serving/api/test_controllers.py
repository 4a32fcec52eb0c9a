"""The API's endpoints through the test client: batch, feedback, model, readiness, no model, a log outage."""

from pathlib import Path

import pytest
import sqlalchemy as sa
from litestar.testing import TestClient

from taxi_assets.model.versions import ModelRegistry
from taxi_assets.platform_db.prediction_log import PREDICTION_LOG
from taxi_assets_tests.champions import Trained, register
from taxi_assets_tests.serving.api.support import assert_no_trace, log_rows
from taxi_assets_tests.serving.support import HEADERS, Served, make_settings, trip
from taxi_serving.app import create_app


def test_batch_matches_single_predictions(served: Served, trained: Trained) -> None:
    trips = [trip(trained.holdout, index) for index in range(25)]
    response = served.client.post("/predict/batch", json={"trips": trips}, headers=HEADERS)
    assert response.status_code == 200
    fares = [item["fare"] for item in response.json()["predictions"]]
    singles = [served.client.post("/predict", json=t, headers=HEADERS).json()["fare"] for t in trips]
    assert fares == pytest.approx(singles, abs=1e-9)
    assert len({item["request_id"] for item in response.json()["predictions"]}) == 25


def test_batch_limit_and_invalid_items(served: Served, trained: Trained) -> None:
    too_many = {"trips": [trip(trained.holdout)] * 1_001}
    response = served.client.post("/predict/batch", json=too_many, headers=HEADERS)
    assert response.status_code == 422
    assert response.json()["fields"][0]["constraint"] == "a list of 1 to 1000 trips"
    mixed = {"trips": [trip(trained.holdout), trip(trained.holdout) | {"pickup_hour": -1}]}
    fields = served.client.post("/predict/batch", json=mixed, headers=HEADERS).json()["fields"]
    assert [item["field"] for item in fields] == ["trips[1].pickup_hour"]


def test_feedback_joins_once(served: Served, trained: Trained) -> None:
    prediction = served.client.post("/predict", json=trip(trained.holdout), headers=HEADERS).json()
    # no flush first: the prediction may still be queued when the feedback arrives
    joined = served.client.post(
        "/feedback", json={"request_id": prediction["request_id"], "actual_fare": 12.5}, headers=HEADERS
    )
    assert joined.status_code == 200
    assert joined.json()["error"] == pytest.approx(prediction["fare"] - 12.5)
    again = served.client.post(
        "/feedback", json={"request_id": prediction["request_id"], "actual_fare": 12.5}, headers=HEADERS
    )
    assert again.status_code == 409
    missing = served.client.post("/feedback", json={"request_id": "nope", "actual_fare": 1.0}, headers=HEADERS)
    assert missing.status_code == 404
    invalid = served.client.post("/feedback", json={"request_id": "", "actual_fare": -3}, headers=HEADERS)
    assert {item["field"] for item in invalid.json()["fields"]} == {"request_id", "actual_fare"}
    row = next(r for r in log_rows(served) if r["request_id"] == prediction["request_id"])
    assert row["actual_fare"] == 12.5


def test_model_and_metrics_describe_what_serves(served: Served, trained: Trained) -> None:
    served.client.post("/predict", json=trip(trained.holdout), headers=HEADERS)
    info = served.client.get("/model", headers=HEADERS).json()
    assert info["champion"]["version"] == served.champion_version
    assert info["champion"]["metrics"]["rmse"] == 4.0
    assert info["challenger"] is None
    metrics = served.client.get("/metrics").text
    assert f'taxi_api_predictions_total{{arm="champion",model_version="{served.champion_version}"}} 1.0' in metrics
    assert "taxi_api_request_seconds_bucket" in metrics
    assert "taxi_api_log_backlog" in metrics
    assert "taxi_api_model_reloads_total 1.0" in metrics
    served.client.post("/predict", json={}, headers={"X-API-Key": "bad"})
    assert 'taxi_api_errors_total{reason="unauthorized",status="401"} 1.0' in served.client.get("/metrics").text


def test_readyz_without_a_model_then_after_a_champion_appears(trained: Trained, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    registry = ModelRegistry(settings.tracking_uri, (tmp_path / "artifacts").as_uri())
    app = create_app(settings)
    with TestClient(app) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["ready"] is False
        assert client.post("/predict", json=trip(trained.holdout), headers=HEADERS).status_code == 503
        version = register(registry, trained, "a")
        app.state.serving.store.refresh()
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["champion_version"] == version
        (app.state.serving.store.champion.cache_path / "model.onnx").unlink()
        gone = client.get("/readyz")
        assert gone.status_code == 503
        assert "model file is missing" in gone.json()["detail"]
        app.state.serving.store.refresh()  # the next poll restores the files
        assert client.get("/readyz").status_code == 200


def test_no_model_is_a_503_in_the_error_shape(trained: Trained, tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path))) as client:
        response = client.post("/predict", json=trip(trained.holdout), headers=HEADERS)
        assert response.status_code == 503
        assert response.json()["error"] == "no_model"
        assert_no_trace(response.text)


@pytest.mark.slow  # seconds of traffic or of waiting: the full suite has it
def test_feedback_during_a_log_outage_is_a_503_and_is_joined_when_the_database_returns(
    trained: Trained, tmp_path: Path
) -> None:
    from taxi_assets_tests.postgres import POSTGRES, TcpProxy, fresh_database

    with fresh_database("feedback") as direct:
        proxy = TcpProxy(POSTGRES)
        settings = make_settings(tmp_path, database_url=direct.replace(":5432/", f":{proxy.port}/"))
        register(ModelRegistry(settings.tracking_uri, (tmp_path / "artifacts").as_uri()), trained, "a")
        try:
            with TestClient(create_app(settings)) as client:
                prediction = client.post("/predict", json=trip(trained.holdout), headers=HEADERS).json()
                assert client.app.state.serving.sink.flush()
                proxy.cut()
                feedback = {"request_id": prediction["request_id"], "actual_fare": 11.0}
                response = client.post("/feedback", json=feedback, headers=HEADERS)
                assert response.status_code == 503
                assert response.json()["error"] == "log_unavailable"
                assert_no_trace(response.text)
                ready = client.get("/readyz").json()
                assert ready["log_store_reachable"] is False
                assert "unreachable" in ready["detail"]
                proxy.restore()
                assert client.app.state.serving.sink.flush(timeout=20)
        finally:
            proxy.close()
        engine = sa.create_engine(direct)
        with engine.connect() as connection:
            fare = connection.execute(
                sa.select(PREDICTION_LOG.c.actual_fare).where(PREDICTION_LOG.c.request_id == prediction["request_id"])
            ).scalar_one()
        engine.dispose()
    assert fare == 11.0
