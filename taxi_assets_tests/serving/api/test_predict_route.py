"""``POST /predict``, the hot path as a plain ASGI route: its answer, its headers, and what it refuses first."""

import time
from datetime import UTC, datetime

from taxi_assets.model.fare_model import FareModel
from taxi_assets_tests.champions import Trained
from taxi_assets_tests.serving.support import HEADERS, Served, trip
from taxi_serving.service import new_request_id, now_iso


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


def test_only_post_is_allowed_and_the_answer_says_so_as_on_the_batch_route(served: Served) -> None:
    for path in ("/predict", "/predict/batch"):
        for method in ("GET", "DELETE", "PUT"):
            response = served.client.request(method, path, headers=HEADERS)
            assert response.status_code == 405
            assert set(response.headers["allow"].split(", ")) == {"POST", "OPTIONS"}
        options = served.client.options(path, headers=HEADERS)
        assert options.status_code == 204
        assert set(options.headers["allow"].split(", ")) == {"POST", "OPTIONS"}
        assert served.client.options(path).status_code == 401  # the key first, as for every other method


def test_the_key_is_checked_before_the_body_is_read(served: Served) -> None:
    # an oversized body without a key: refused as unauthorized, not read to find it too large
    response = served.client.post("/predict", content=b"x" * 2_000_000)
    assert (response.status_code, response.json()["error"]) == (401, "unauthorized")


def test_each_answer_has_its_own_request_id(served: Served, trained: Trained) -> None:
    body = trip(trained.holdout)
    ids = {served.client.post("/predict", json=body, headers=HEADERS).json()["request_id"] for _ in range(5)}
    assert len(ids) == 5


def test_request_ids_grow_with_time_and_stay_unguessable() -> None:
    """Ids are appended at the end of the log's unique index (time first), and 80 bits of them are random."""
    ids = []
    for _ in range(3):
        ids += [new_request_id() for _ in range(2_000)]
        time.sleep(0.002)
    assert len(set(ids)) == len(ids)
    assert all(len(value) == 32 and int(value, 16) >= 0 for value in ids)
    milliseconds = [int(value[:12], 16) for value in ids]
    assert milliseconds == sorted(milliseconds)
    assert abs(milliseconds[-1] - time.time_ns() // 1_000_000) < 60_000
    # the random part: as many distinct values as ids, and every hex digit about equally often
    randoms = "".join(value[12:] for value in ids)
    assert len({value[12:] for value in ids}) == len(ids)
    counts = [randoms.count(digit) for digit in "0123456789abcdef"]
    assert max(counts) < 1.1 * len(randoms) / 16 < 1.2 * min(counts)


def test_served_at_is_the_same_text_datetime_gives() -> None:
    for _ in range(3):
        before = datetime.now(UTC)
        served_at = now_iso()
        after = datetime.now(UTC)
        assert before <= datetime.fromisoformat(served_at) <= after
        assert len(served_at) == len(after.isoformat(timespec="microseconds"))
        assert served_at.endswith("+00:00")
        time.sleep(0.6)  # across a second's boundary at least once
