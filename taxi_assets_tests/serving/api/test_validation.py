"""A trip is checked against the champion's reference ranges: every failing field named, with its value and range."""

import json

from taxi_assets_tests.champions import Trained
from taxi_assets_tests.serving.api.support import assert_no_trace, log_rows
from taxi_assets_tests.serving.support import HEADERS, Served, trip


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
