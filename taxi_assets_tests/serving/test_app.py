"""The API through Litestar's test client, on a champion registered in MLflow.

The champion here is a small ensemble written by hand (``champions.tiny_champions``): these tests are about the
API's own behaviour, need no Spark and run in the fast tier. A Spark-trained champion is served in
``test_spark_champion.py`` and by the real servers of ``test_server.py`` and ``test_contract.py``.
"""

import json
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from litestar.testing import TestClient

from taxi_assets.features.columns import FEATURES, INTEGER_FEATURES
from taxi_assets.model.versions import CHALLENGER, CHAMPION, ModelRegistry
from taxi_assets.platform_db.prediction_log import PREDICTION_LOG
from taxi_assets.registry.rollout import AB, SHADOW, Stage
from taxi_assets_tests.champions import Trained, register, tiny_champions
from taxi_assets_tests.serving.support import HEADERS, Served, make_settings, trip
from taxi_serving.app import create_app

TRACE_MARKERS = ("Traceback", 'File "', "Error:", "Exception")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """This module's champions: no Spark (the session-wide ``trained`` of ``conftest.py`` trains them with it)."""
    return tiny_champions(tmp_path_factory.mktemp("tiny-champions"))


def log_rows(served: Served) -> list[dict[str, object]]:
    served.app.state.serving.sink.flush()
    engine = sa.create_engine(f"sqlite:///{served.home / 'platform.db'}")
    with engine.connect() as connection:
        rows = [dict(row) for row in connection.execute(sa.select(PREDICTION_LOG)).mappings()]
    engine.dispose()
    return rows


def assert_no_trace(body: str) -> None:
    for marker in TRACE_MARKERS:
        assert marker not in body


def test_batch_matches_single_predictions(served: Served, trained: Trained) -> None:
    trips = [trip(trained.holdout, index) for index in range(25)]
    response = served.client.post("/predict/batch", json={"trips": trips}, headers=HEADERS)
    assert response.status_code == 200
    fares = [item["fare"] for item in response.json()["predictions"]]
    singles = [served.client.post("/predict", json=t, headers=HEADERS).json()["fare"] for t in trips]
    assert fares == pytest.approx(singles, abs=1e-9)
    assert len({item["request_id"] for item in response.json()["predictions"]}) == 25


def test_422_names_every_failing_field_with_value_and_range(served: Served, trained: Trained) -> None:
    body = trip(trained.holdout) | {
        "trip_distance": 250.0,
        "pickup_hour": 24,
        "pickup_borough": "Atlantis",
        "RatecodeID": 7,
        "surcharge": 1,
    }
    del body["payment_type"]
    response = served.client.post("/predict", json=body, headers=HEADERS)
    assert response.status_code == 422
    payload = response.json()
    assert payload["error"] == "validation_failed"
    fields = {item["field"]: item for item in payload["fields"]}
    assert set(fields) == {"trip_distance", "pickup_hour", "pickup_borough", "RatecodeID", "surcharge", "payment_type"}
    assert fields["trip_distance"]["value"] == 250.0
    # the upper bound is the largest distance the model was trained on, not the static 1,000 miles
    profile = json.loads(trained.profile_path.read_text())
    assert f"{profile['numeric']['trip_distance']['maximum']:g}]" in fields["trip_distance"]["constraint"]
    assert fields["pickup_hour"]["constraint"] == "an integer in [0, 23]"
    assert "Manhattan" in fields["pickup_borough"]["constraint"]
    assert fields["payment_type"]["constraint"].startswith("required")
    assert fields["surcharge"]["constraint"] == "not an accepted field"
    assert_no_trace(response.text)
    rejected = [row for row in log_rows(served) if row["status"] == "rejected"]
    assert len(rejected) == 1
    assert "trip_distance" in str(rejected[0]["field"])
    metrics = served.client.get("/metrics").text
    assert 'taxi_api_validation_failures_total{field="pickup_hour"} 1.0' in metrics


def test_inconsistent_flags_and_wrong_types_are_named(served: Served, trained: Trained) -> None:
    body = trip(trained.holdout) | {"pickup_day_of_week": 6, "is_weekend": 0, "pickup_hour": 8}
    response = served.client.post("/predict", json=body, headers=HEADERS)
    assert response.status_code == 422
    assert [item["field"] for item in response.json()["fields"]] == ["is_weekend"]
    typed = trip(trained.holdout) | {"passenger_count": "two", "pickup_month": 2.5, "is_rush_hour": True}
    fields = {
        item["field"]: item for item in served.client.post("/predict", json=typed, headers=HEADERS).json()["fields"]
    }
    assert set(fields) == {"passenger_count", "pickup_month", "is_rush_hour"}
    assert fields["passenger_count"]["value"] == "two"


@pytest.mark.parametrize(
    ("body", "headers", "status", "error"),
    [
        (b"{not json", HEADERS, 400, "malformed_json"),
        (b"[1, 2]", HEADERS, 422, "validation_failed"),
        (b"{}", {}, 401, "unauthorized"),
        (b"{}", {"X-API-Key": "wrong"}, 401, "unauthorized"),
        (b"x" * 2_000_000, HEADERS, 413, "request_entity_too_large"),
    ],
)
def test_error_shapes(served: Served, body: bytes, headers: dict[str, str], status: int, error: str) -> None:
    response = served.client.post("/predict", content=body, headers={"content-type": "application/json", **headers})
    assert response.status_code == status
    payload = response.json()
    assert payload["status"] == status
    assert payload["error"] == error
    assert isinstance(payload["detail"], str)
    assert_no_trace(response.text)


def test_bearer_tokens_and_a_second_key_are_accepted(served: Served, trained: Trained) -> None:
    body = trip(trained.holdout)
    assert served.client.post("/predict", json=body, headers={"Authorization": "Bearer test-key-2"}).status_code == 200
    assert served.client.get("/model").status_code == 401
    assert served.client.get("/healthz").status_code == 200


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


@pytest.mark.slow  # seconds of traffic or of waiting: the full suite has it
def test_ab_split_is_within_tolerance_and_sticky(trained: Trained, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, challenger_share=0.3)
    registry = ModelRegistry(settings.tracking_uri, (tmp_path / "artifacts").as_uri())
    register(registry, trained, "a", CHAMPION)
    challenger_version = register(registry, trained, "b", CHALLENGER)
    app = create_app(settings)
    with TestClient(app) as client:
        body = trip(trained.holdout)
        arms = [
            client.post("/predict", json=body | {"client_id": f"c{i}"}, headers=HEADERS).json() for i in range(10_000)
        ]
        share = sum(a["arm"] == "challenger" for a in arms) / len(arms)
        assert share == pytest.approx(0.3, abs=0.02)
        assert {a["model_version"] for a in arms if a["arm"] == "challenger"} == {challenger_version}
        sticky = {
            client.post("/predict", json=body | {"client_id": "c7"}, headers=HEADERS).json()["arm"] for _ in range(20)
        }
        assert sticky == {arms[7]["arm"]}


def test_shadow_scores_the_challenger_without_returning_it(trained: Trained, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, shadow=True)
    registry = ModelRegistry(settings.tracking_uri, (tmp_path / "artifacts").as_uri())
    register(registry, trained, "a", CHAMPION)
    challenger_version = register(registry, trained, "b", CHALLENGER)
    app = create_app(settings)
    with TestClient(app) as client:
        response = client.post("/predict", json=trip(trained.holdout), headers=HEADERS).json()
        assert response["arm"] == "champion"
        app.state.serving.sink.flush()
    engine = sa.create_engine(settings.database_url)
    with engine.connect() as connection:
        rows = connection.execute(sa.select(PREDICTION_LOG.c.arm, PREDICTION_LOG.c.model_version)).all()
    engine.dispose()
    assert sorted(rows) == sorted([("champion", response["model_version"]), ("shadow", challenger_version)])


def test_the_api_follows_the_challengers_rollout_stage_at_each_poll(trained: Trained, tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    registry = ModelRegistry(settings.tracking_uri, (tmp_path / "artifacts").as_uri())
    register(registry, trained, "a", CHAMPION)
    challenger_version = register(registry, trained, "b", CHALLENGER)
    app = create_app(settings)
    store, model = app.state.serving.store, settings.model_name

    def arms(clients: int) -> list[str]:
        body = trip(trained.holdout)
        return [
            client.post("/predict", json=body | {"client_id": f"c{i}"}, headers=HEADERS).json()["arm"]
            for i in range(clients)
        ]

    def logged_arms() -> list[str]:
        app.state.serving.sink.flush()
        engine = sa.create_engine(settings.database_url)
        with engine.connect() as connection:
            rows = connection.execute(sa.select(PREDICTION_LOG.c.arm)).scalars().all()
        engine.dispose()
        return list(rows)

    with TestClient(app) as client:
        # a challenger alias alone (an offline rejection keeps it) is neither scored nor served
        assert set(arms(50)) == {"champion"}
        assert "shadow" not in logged_arms()
        registry.tag_version(
            model, challenger_version, Stage(SHADOW, challenger_version, "1", datetime.now(UTC)).tags()
        )
        store.refresh()
        assert set(arms(50)) == {"champion"}
        assert logged_arms().count("shadow") == 50
        assert client.get("/model", headers=HEADERS).json()["rollout_stage"] == "shadow"
        registry.tag_version(
            model, challenger_version, Stage(AB, challenger_version, "1", datetime.now(UTC), 0.4).tags()
        )
        store.refresh()
        split = arms(2_000)
        assert split.count("challenger") / len(split) == pytest.approx(0.4, abs=0.04)
        assert logged_arms().count("shadow") == 50  # A/B answers with one model: nothing more in shadow
        info = client.get("/model", headers=HEADERS).json()
        assert (info["rollout_stage"], info["challenger_share"], info["shadow"]) == ("ab", 0.4, False)
        registry.tag_version(model, challenger_version, {"rollout.stage": "ended"})
        store.refresh()
        assert set(arms(200)) == {"champion"}
        assert client.get("/model", headers=HEADERS).json()["rollout_stage"] is None


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


def test_the_schema_documents_the_request_bodies(served: Served) -> None:
    schema = served.client.get("/schema/openapi.json").json()
    body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["pickup_hour"]["maximum"] == 23
    assert "trip_distance" in body["required"]
    assert "/predict/batch" in schema["paths"]


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
            assert ready.json()["source"].startswith("cache:")
            assert ready.json()["champion_version"] == served.champion_version
            response = client.post("/predict", json=trip(trained.holdout), headers=HEADERS)
            assert response.status_code == 200
            assert response.json()["model_version"] == served.champion_version
            assert "taxi_api_registry_reachable 0.0" in client.get("/metrics").text
    finally:
        listener.close()
    # the bound of the default policy (1 retry, 3 s timeout, backoff 1): MLflow's own default took ~250 s
    assert startup < 10, startup


def test_no_model_is_a_503_in_the_error_shape(trained: Trained, tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path))) as client:
        response = client.post("/predict", json=trip(trained.holdout), headers=HEADERS)
        assert response.status_code == 503
        assert response.json()["error"] == "no_model"
        assert_no_trace(response.text)


HOSTILE = {
    "a 400-digit integer": lambda body: json.dumps(body | {"trip_distance": 10**400}).encode(),
    "a 400-digit integer as an unknown field": lambda body: json.dumps(body | {"extra": 10**400}).encode(),
    "a number beyond a double": lambda body: json.dumps(body)[:-1].encode() + b', "extra": 1e400}',
    "invalid UTF-8": lambda body: json.dumps(body)[:-1].encode() + b', "client_id": "\xff\xfe"}',
    "10,000 nested brackets": lambda body: b"[" * 10_000 + b"]" * 10_000,
    "a nested object as a feature": lambda body: json.dumps(body | {"pickup_hour": {"a": [1]}}).encode(),
}


@pytest.mark.parametrize("endpoint", ["/predict", "/predict/batch", "/feedback"])
@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_input_is_a_4xx_in_the_error_shape_never_a_500(
    served: Served, trained: Trained, endpoint: str, kind: str
) -> None:
    body: dict[str, object] = trip(trained.holdout)
    if endpoint == "/feedback":
        body = {"request_id": "abc", "actual_fare": 10.0} | ({"actual_fare": 10**400} if "400" in kind else {})
    raw = HOSTILE[kind](body)
    if endpoint == "/predict/batch" and raw.startswith(b"{"):
        raw = b'{"trips": [' + raw + b"]}"
    response = served.client.post(endpoint, content=raw, headers={"content-type": "application/json", **HEADERS})
    assert response.status_code in (400, 422), response.text
    payload = response.json()
    assert payload["status"] == response.status_code
    assert payload["error"] in ("malformed_json", "validation_failed")
    assert len(response.content) < 20_000
    assert_no_trace(response.text)


def test_client_id_is_bounded_the_same_on_predict_and_batch(served: Served, trained: Trained) -> None:
    body = trip(trained.holdout)
    for endpoint, payload in (
        ("/predict", body | {"client_id": "c" * 129}),
        ("/predict/batch", {"trips": [body], "client_id": "c" * 129}),
        ("/predict/batch", {"trips": [body], "client_id": 7}),
    ):
        response = served.client.post(endpoint, json=payload, headers=HEADERS)
        assert response.status_code == 422
        (field,) = response.json()["fields"]
        assert field["field"] == "client_id"
        assert field["constraint"] == "a string of at most 128 characters"
    assert served.client.post("/predict", json=body | {"client_id": "c" * 128}, headers=HEADERS).status_code == 200


def test_unknown_field_names_do_not_grow_the_metrics(served: Served, trained: Trained) -> None:
    body = trip(trained.holdout)
    for index in range(20):
        served.client.post("/predict", json=body | {f"{index}{'x' * 500_000}": 1}, headers=HEADERS)
    metrics = served.client.get("/metrics").text
    assert len(metrics) < 50_000
    assert 'taxi_api_validation_failures_total{field="unknown_field"} 20.0' in metrics


def test_a_refused_row_is_quarantined_and_readiness_stays_true(served: Served, trained: Trained) -> None:
    from taxi_serving.service import log_row

    sink = served.app.state.serving.sink
    poison = list(log_row(request_id="poison", endpoint="/predict", status="ok", status_code=200))
    poison[11] = {"not": "a number"}
    sink.submit(tuple(poison))
    for _ in range(20):
        assert served.client.post("/predict", json=trip(trained.holdout), headers=HEADERS).status_code == 200
    assert sink.flush()
    ready = served.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["log_store_reachable"] is True
    assert ready.json()["log_quarantined"] == 1
    assert ready.json()["log_backlog"] == 0
    assert sum(row["status"] == "ok" for row in log_rows(served)) == 20
    assert "taxi_api_log_rows_quarantined_total 1.0" in served.client.get("/metrics").text


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
