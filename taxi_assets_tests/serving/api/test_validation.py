"""A trip is checked against the trip rules under the champion's bounds: every failing field named, value and range."""

import json
from pathlib import Path

import sqlalchemy as sa
from litestar.testing import TestClient

from taxi_assets.features.columns import FEATURES
from taxi_assets.platform_db.prediction_log import PREDICTION_LOG
from taxi_assets_tests.champions import Trained
from taxi_assets_tests.postgres import fresh_database
from taxi_assets_tests.serving.api.support import assert_no_trace, log_rows
from taxi_assets_tests.serving.support import HEADERS, Served, make_settings, trip
from taxi_serving.app import create_app


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
    # the bounds are those the champion's training rows were kept by, recorded in its reference profile
    bounds = json.loads(trained.profile_path.read_text())["bounds"]
    assert fields["trip_distance"]["constraint"] == (
        f"a number in [{bounds['min_distance_miles']:g}, {bounds['max_distance_miles']:g}]"
    )
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


def test_a_trip_too_fast_or_too_slow_for_training_and_a_fare_training_dropped_are_422(
    served: Served, trained: Trained
) -> None:
    bounds = json.loads(trained.profile_path.read_text())["bounds"]
    ten_minutes = trip(trained.holdout) | {"trip_duration_minutes": 10.0}
    fastest = bounds["max_speed_mph"] * 10 / 60
    for distance, status in ((fastest * 0.999, 200), (fastest * 1.001, 422)):
        response = served.client.post("/predict", json=ten_minutes | {"trip_distance": distance}, headers=HEADERS)
        assert response.status_code == status, response.text
    crawling = ten_minutes | {"trip_duration_minutes": 60.0, "trip_distance": bounds["min_speed_mph"] * 0.99}
    assert served.client.post("/predict", json=crawling, headers=HEADERS).status_code == 422
    fields = response.json()["fields"]
    assert [item["field"] for item in fields] == ["trip_distance"]
    assert fields[0]["constraint"].startswith(f"an average speed in [{bounds['min_speed_mph']:g}, ")
    request_id = served.client.post("/predict", json=ten_minutes, headers=HEADERS).json()["request_id"]
    too_high = {"request_id": request_id, "actual_fare": bounds["max_fare_usd"] + 1}
    response = served.client.post("/feedback", json=too_high, headers=HEADERS)
    assert response.status_code == 422
    assert response.json()["fields"] == [
        {
            "field": "actual_fare",
            "value": bounds["max_fare_usd"] + 1,
            "constraint": f"a number in [{bounds['min_fare_usd']:g}, {bounds['max_fare_usd']:g}]",
        }
    ]
    response = served.client.post("/feedback", json=too_high | {"actual_fare": bounds["max_fare_usd"]}, headers=HEADERS)
    assert response.status_code == 200, response.text


def test_numbers_of_any_size_are_422_naming_the_field_on_every_route(served: Served, trained: Trained) -> None:
    """A JSON integer of 400 digits is beyond a double: refused as out of range, never a 500, and logged."""
    huge = "9" * 400
    base = trip(trained.holdout)
    for name in FEATURES:
        if name.endswith("borough"):
            continue
        text = json.dumps(base | {name: 0}).replace(f'"{name}": 0', f'"{name}": {huge}')
        response = served.client.post("/predict", content=text, headers=HEADERS)
        assert response.status_code == 422, (name, response.text)
        (field,) = response.json()["fields"]
        assert field == {"field": name, "value": "<an integer too large>", "constraint": field["constraint"]}
        batch = '{"trips": [' + text + "]}"
        response = served.client.post("/predict/batch", content=batch, headers=HEADERS)
        assert response.status_code == 422, (name, response.text)
        assert [item["field"] for item in response.json()["fields"]] == [f"trips[0].{name}"]
    feedback = '{"request_id": "abc", "actual_fare": ' + huge + "}"
    response = served.client.post("/feedback", content=feedback, headers=HEADERS)
    assert response.status_code == 422
    assert [item["field"] for item in response.json()["fields"]] == ["actual_fare"]
    rejected = [row for row in log_rows(served) if row["status"] == "rejected"]
    assert len(rejected) == 2 * 10  # every /predict and /predict/batch refusal is in the log


def test_control_characters_in_text_are_422_on_every_route(served: Served, trained: Trained) -> None:
    base = trip(trained.holdout)
    for text in ("dispatch\x007", "tab\there", "bell\x07", "del\x7f"):
        for path, body in (
            ("/predict", base | {"client_id": text}),
            ("/predict/batch", {"trips": [base], "client_id": text}),
        ):
            response = served.client.post(path, json=body, headers=HEADERS)
            assert response.status_code == 422, (path, repr(text), response.text)
            assert [item["field"] for item in response.json()["fields"]] == ["client_id"]
            assert "without control characters" in response.json()["fields"][0]["constraint"]
        for field, value in (("pickup_borough", f"Queens{text}"),):
            response = served.client.post("/predict", json=base | {field: value}, headers=HEADERS)
            assert response.status_code == 422
        response = served.client.post("/feedback", json={"request_id": text, "actual_fare": 10.0}, headers=HEADERS)
        assert response.status_code == 422
        assert [item["field"] for item in response.json()["fields"]] == ["request_id"]
    # printable text that is not ASCII is a valid client id
    assert served.client.post("/predict", json=base | {"client_id": "dispatch-é-7"}, headers=HEADERS).status_code == 200


def test_a_request_refused_for_control_characters_is_logged_not_quarantined_on_postgres(
    served: Served, trained: Trained, tmp_path: Path
) -> None:
    """PostgreSQL refuses NUL in text: the refused request's row keeps its text without control characters."""
    with fresh_database("nul") as url:
        settings = make_settings(served.home, database_url=url, journal_dir=tmp_path / "journal")
        with TestClient(create_app(settings)) as client:
            body = trip(trained.holdout) | {"client_id": "a\x00b", "pickup_borough": "Queens\x00", "odd\x00key": 1}
            response = client.post("/predict", json=body, headers=HEADERS)
            assert response.status_code == 422
            assert {item["field"] for item in response.json()["fields"]} == {
                "client_id",
                "pickup_borough",
                "odd\x00key",
            }
            batch = {"trips": [trip(trained.holdout)], "client_id": "\x00"}
            assert client.post("/predict/batch", json=batch, headers=HEADERS).status_code == 422
            sink = client.app.state.serving.sink
            assert sink.flush(timeout=10)
            assert sink.counters.quarantined == 0
        engine = sa.create_engine(url)
        with engine.connect() as connection:
            rows = (
                connection.execute(sa.select(PREDICTION_LOG).where(PREDICTION_LOG.c.status == "rejected"))
                .mappings()
                .all()
            )
        engine.dispose()
    assert len(rows) == 2
    single = next(row for row in rows if row["endpoint"] == "/predict")
    assert single["client_id"] is None  # a refused request's client id is not kept
    assert single["pickup_borough"] == "Queens"
    assert "oddkey" in single["field"]
