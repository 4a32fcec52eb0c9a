import pandas as pd

from taxi_assets.features.columns import EXAMPLE_TRIP, FEATURE_TABLE_COLUMNS, PICKUP_DATETIME, TARGET, TRIP_ID
from taxi_assets.platform_db.prediction_log import LABELLED_AT
from taxi_assets.retraining.traffic import traffic_features


def labelled_log(fares: list[float]) -> pd.DataFrame:
    rows = [
        {"request_id": f"r{i}", LABELLED_AT: pd.Timestamp("2026-03-01 08:00") + pd.Timedelta(minutes=i)}
        | {**EXAMPLE_TRIP, "model_version": "1", "prediction": 11.0, "actual_fare": fare}
        for i, fare in enumerate(fares)
    ]
    return pd.DataFrame(rows)


def test_labelled_rows_become_feature_rows_named_by_their_content() -> None:
    frame = traffic_features(labelled_log([12.0, 15.0, 12.0]))
    assert list(frame.columns) == list(FEATURE_TABLE_COLUMNS)
    assert frame[TARGET].tolist() == [12.0, 15.0, 12.0]
    assert frame[PICKUP_DATETIME].tolist() == labelled_log([0, 0, 0])[LABELLED_AT].tolist()
    ids = frame[TRIP_ID].tolist()
    # the same trip and fare twice: the same content, numbered apart; another fare, another id
    assert ids[0].rsplit("-", 1) == [ids[2].rsplit("-", 1)[0], "0"]
    assert ids[2].endswith("-1")
    assert ids[1].split("-")[1] != ids[0].split("-")[1]


def test_the_ids_do_not_depend_on_the_random_request_ids() -> None:
    first, second = labelled_log([12.0, 15.0]), labelled_log([12.0, 15.0])
    second["request_id"] = ["x", "y"]
    assert traffic_features(first)[TRIP_ID].tolist() == traffic_features(second)[TRIP_ID].tolist()
