"""``GET /predictions/{request_id}/explanation``: a logged fare explained later, by the version that served it."""

import time

import pytest
import sqlalchemy as sa

from taxi_assets.features.columns import FEATURES
from taxi_assets.model.fare_model import FareModel
from taxi_assets.model.versions import CHAMPION, model_name
from taxi_assets.platform_db.prediction_log import PREDICTION_LOG
from taxi_assets_tests.champions import Trained, register
from taxi_assets_tests.serving.support import HEADERS, Served, trip
from taxi_serving.explanation_route import issued_recently
from taxi_serving.service import new_request_id


def explained(served: Served, request_id: str) -> dict[str, object]:
    response = served.client.get(f"/predictions/{request_id}/explanation", headers=HEADERS)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_logged_fare_is_explained_later_and_adds_up_to_the_fare_returned(served: Served, trained: Trained) -> None:
    for index in range(5):
        body = trip(trained.holdout, index)
        answer = served.client.post("/predict", json=body, headers=HEADERS).json()
        later = explained(served, answer["request_id"])  # straight away: the lookup waits for the log to ship
        assert later["fare"] == answer["fare"]
        assert later["model_version"] == answer["model_version"] == served.champion_version
        assert later["trip"] == body
        why = later["explanation"]
        assert isinstance(why, dict)
        total = why["base_fare"] + sum(why["contributions"].values()) + why["floor_adjustment"]
        assert total == pytest.approx(answer["fare"], abs=1e-6)
        # the same answer as asking at the time
        now = served.client.post("/predict?explain=true", json=body, headers=HEADERS).json()["explanation"]
        assert why == now


def test_a_fare_of_a_version_no_longer_served_is_explained_by_that_version(served: Served, trained: Trained) -> None:
    body = {**trip(trained.holdout), "trip_distance": 7.5, "trip_duration_minutes": 25.0}
    first = served.client.post("/predict", json=body, headers=HEADERS).json()
    # a new champion ("b", its trees priced 10 % higher) replaces the one that answered
    newer = register(served.registry, trained, "b", alias=CHAMPION)
    serving = served.app.state.serving
    serving.store.refresh()
    assert serving.store.champion.version == newer != first["model_version"]
    second = served.client.post("/predict", json=body, headers=HEADERS).json()
    assert second["fare"] != first["fare"]
    for answer, folder in ((first, "a"), (second, "b")):
        later = explained(served, answer["request_id"])
        assert later["model_version"] == answer["model_version"]
        why = later["explanation"]
        total = why["base_fare"] + sum(why["contributions"].values()) + why["floor_adjustment"]
        assert total == pytest.approx(FareModel.load(trained.serving_dirs[folder]).predict_row(body), abs=1e-6)
    versions = served.app.state.explaining_versions
    assert list(versions._kept) == [first["model_version"]]  # loaded from the registry once, then kept


def test_an_unknown_id_is_404_a_refused_request_409_and_a_bad_id_422(served: Served, trained: Trained) -> None:
    missing = served.client.get("/predictions/no-such-request/explanation", headers=HEADERS)
    assert missing.status_code == 404
    assert "no-such-request" in missing.json()["detail"]
    refused = served.client.post("/predict", json={**trip(trained.holdout), "trip_distance": -3}, headers=HEADERS)
    assert refused.status_code == 422
    serving = served.app.state.serving
    assert serving.sink.flush()
    engine = sa.create_engine(serving.settings.database_url)
    with engine.connect() as connection:
        request_id = connection.execute(sa.select(PREDICTION_LOG.c.request_id)).scalar_one()
    engine.dispose()
    conflict = served.client.get(f"/predictions/{request_id}/explanation", headers=HEADERS)
    assert conflict.status_code == 409
    assert "was refused" in conflict.json()["detail"]
    too_long = served.client.get(f"/predictions/{'x' * 65}/explanation", headers=HEADERS)
    assert too_long.status_code == 422
    (field,) = too_long.json()["fields"]
    assert field["field"] == "request_id"
    assert "1 to 64 characters" in field["constraint"]


def test_explanations_of_logged_fares_need_an_api_key(served: Served) -> None:
    assert served.client.get("/predictions/anything/explanation").status_code == 401


def test_the_logged_trip_comes_back_with_whole_numbers_as_integers(served: Served, trained: Trained) -> None:
    body = trip(trained.holdout, 3)
    answer = served.client.post("/predict", json=body, headers=HEADERS).json()
    logged = explained(served, answer["request_id"])["trip"]
    assert isinstance(logged, dict)
    assert set(logged) == set(FEATURES)
    assert isinstance(logged["pickup_hour"], int)
    assert isinstance(logged["trip_distance"], float)
    assert model_name("green") == served.app.state.serving.store.model_name


def test_only_an_id_issued_a_moment_ago_waits_for_the_log_to_ship() -> None:
    assert issued_recently(new_request_id())
    assert issued_recently(new_request_id() + "-17")
    old = f"{(time.time_ns() // 1_000_000) - 120_000:012x}" + "0" * 20
    assert not issued_recently(old)
    assert not issued_recently("no-such-request")
    assert not issued_recently(new_request_id().upper())
