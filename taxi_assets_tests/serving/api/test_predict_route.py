"""``POST /predict``, the hot path as a plain ASGI route: its answer, its headers, and what it refuses first."""

from taxi_assets.model.fare_model import FareModel
from taxi_assets_tests.champions import Trained
from taxi_assets_tests.serving.support import HEADERS, Served, trip


def test_a_trip_is_priced_by_the_champion_with_the_answers_headers(served: Served, trained: Trained) -> None:
    body = trip(trained.holdout, 3)
    response = served.client.post("/predict", json=body, headers=HEADERS)
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {"request_id", "fare", "model_version", "arm", "served_at"}
    assert (answer["model_version"], answer["arm"]) == (served.champion_version, "champion")
    assert answer["fare"] == FareModel.load(trained.serving_dirs["a"]).predict_row(body)
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert int(response.headers["content-length"]) == len(response.content)


def test_only_post_is_allowed_and_the_answer_says_so(served: Served) -> None:
    response = served.client.get("/predict", headers=HEADERS)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_the_key_is_checked_before_the_body_is_read(served: Served) -> None:
    # an oversized body without a key: refused as unauthorized, not read to find it too large
    response = served.client.post("/predict", content=b"x" * 2_000_000)
    assert (response.status_code, response.json()["error"]) == (401, "unauthorized")


def test_each_answer_has_its_own_request_id(served: Served, trained: Trained) -> None:
    body = trip(trained.holdout)
    ids = {served.client.post("/predict", json=body, headers=HEADERS).json()["request_id"] for _ in range(5)}
    assert len(ids) == 5
