"""Every error in one JSON shape, a 4xx for anything a client sends, never a stack trace."""

import json
import time

import pytest

from taxi_assets_tests.champions import Trained
from taxi_assets_tests.serving.api.support import assert_no_trace
from taxi_assets_tests.serving.support import HEADERS, Served, trip
from taxi_serving.errors import _Throttled

HOSTILE = {
    "a 400-digit integer": lambda body: json.dumps(body | {"trip_distance": 10**400}).encode(),
    "a 400-digit integer as an unknown field": lambda body: json.dumps(body | {"extra": 10**400}).encode(),
    "a number beyond a double": lambda body: json.dumps(body)[:-1].encode() + b', "extra": 1e400}',
    "invalid UTF-8": lambda body: json.dumps(body)[:-1].encode() + b', "client_id": "\xff\xfe"}',
    "10,000 nested brackets": lambda body: b"[" * 10_000 + b"]" * 10_000,
    "a nested object as a feature": lambda body: json.dumps(body | {"pickup_hour": {"a": [1]}}).encode(),
}


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


def test_a_flood_of_journal_refusals_is_one_log_line_per_interval_with_the_count_held_back() -> None:
    throttle = _Throttled(0.2)
    assert throttle.due() == 0
    assert [throttle.due() for _ in range(500)] == [None] * 500
    time.sleep(0.25)
    assert throttle.due() == 500
    assert throttle.due() is None
