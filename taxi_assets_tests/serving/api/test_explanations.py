"""``POST /predict?explain=true``: why this fare, adding up to it, from the version that answered; else nothing."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from taxi_assets.features.columns import FEATURES
from taxi_assets.model.fare_model import FareModel
from taxi_assets.model.reasons import described
from taxi_assets.model.spec import FARE_FLOOR_USD, FeatureSpec
from taxi_assets.platform_db.prediction_log import PREDICTION_LOG
from taxi_assets.training.export import SparkTree, build_onnx, explainer
from taxi_assets_tests.champions import Trained, tiny_ensemble
from taxi_assets_tests.serving.support import HEADERS, Served, trip
from taxi_serving.errors import ConflictError
from taxi_serving.explanations import explanation
from taxi_serving.model_store import LoadedModel
from taxi_serving.validation import DEFAULT_VALIDATOR


def added_up(answer: dict[str, object]) -> float:
    why = answer["explanation"]
    assert isinstance(why, dict)
    return float(why["base_fare"] + sum(why["contributions"].values()) + why["floor_adjustment"])


def test_an_explained_fare_is_its_base_plus_what_each_feature_added(served: Served, trained: Trained) -> None:
    for index in range(20):
        body = trip(trained.holdout, index)
        response = served.client.post("/predict?explain=true", json=body, headers=HEADERS)
        assert response.status_code == 200
        answer = response.json()
        assert answer["fare"] == FareModel.load(trained.serving_dirs["a"]).predict_row(body)
        assert added_up(answer) == pytest.approx(answer["fare"], abs=1e-6)
        why = answer["explanation"]
        assert set(why["contributions"]) == set(FEATURES)
        # the hand-written trees split on distance, duration and hour only: nothing else moves a fare
        moved = {name for name, value in why["contributions"].items() if value != 0}
        assert moved <= {"trip_distance", "trip_duration_minutes", "pickup_hour"}
        assert len(why["reasons"]) == 3
        largest = max(why["contributions"].items(), key=lambda item: abs(item[1]))
        assert why["reasons"][0] == f"{described(largest[0], body[largest[0]])}: " + (
            f"{'+' if largest[1] >= 0 else '-'}${abs(largest[1]):.2f}"
        )


def test_a_long_trip_is_explained_by_its_distance_first(served: Served, trained: Trained) -> None:
    body = {**trip(trained.holdout), "trip_distance": 12.0, "trip_duration_minutes": 40.0}
    why = served.client.post("/predict?explain=1", json=body, headers=HEADERS).json()["explanation"]
    assert why["reasons"][0].startswith("a 12-mile trip: +$")
    assert why["contributions"]["trip_distance"] > 0


@pytest.mark.parametrize("query", ["", "?explain=false", "?explain=0", "?other=1"])
def test_without_the_flag_the_answer_is_as_it_always_was(served: Served, trained: Trained, query: str) -> None:
    answer = served.client.post(f"/predict{query}", json=trip(trained.holdout), headers=HEADERS).json()
    assert set(answer) == {"request_id", "fare", "model_version", "arm", "served_at"}


def test_a_flag_that_is_not_a_yes_or_no_is_named_and_the_refusal_logged(served: Served, trained: Trained) -> None:
    response = served.client.post("/predict?explain=maybe", json=trip(trained.holdout), headers=HEADERS)
    assert response.status_code == 422
    (field,) = response.json()["fields"]
    assert field == {"field": "explain", "value": "maybe", "constraint": "true, false, 1 or 0"}
    serving = served.app.state.serving
    assert serving.sink.flush()
    engine = sa.create_engine(serving.settings.database_url)
    with engine.connect() as connection:
        rows = connection.execute(sa.select(PREDICTION_LOG.c.status, PREDICTION_LOG.c.field)).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [("rejected", "explain")]


def loaded(trees: list[SparkTree], spec: FeatureSpec, with_explainer: bool = True) -> LoadedModel:
    return LoadedModel(
        alias="champion",
        version="7",
        model=FareModel(build_onnx(trees, len(FEATURES)).SerializeToString(), spec),
        validator=DEFAULT_VALIDATOR,
        metrics={},
        loaded_at=datetime.now(UTC),
        source="models:/taxi-fare-green/7",
        cache_path=Path("."),
        explainer=explainer(trees, len(FEATURES)) if with_explainer else None,
    )


def test_a_fare_the_floor_raised_is_explained_with_the_floors_share(trained: Trained) -> None:
    below = {0: {"id": 0, "prediction": -100.0, "leftChild": -1, "rightChild": -1, "split": {}, "impurityStats": [1]}}
    model = loaded([*tiny_ensemble(1.0), SparkTree(1.0, below)], FareModel.load(trained.serving_dirs["a"]).spec)
    body = trip(trained.holdout)
    fare = model.model.predict_row(body)
    assert fare == FARE_FLOOR_USD
    why = explanation(model, body, fare)
    assert why.floor_adjustment > 60
    assert why.base_fare + sum(why.contributions.values()) + why.floor_adjustment == pytest.approx(fare, abs=1e-6)


def test_a_version_without_its_trees_says_it_cannot_explain(trained: Trained) -> None:
    model = loaded(tiny_ensemble(1.0), FareModel.load(trained.serving_dirs["a"]).spec, with_explainer=False)
    with pytest.raises(ConflictError, match="model version 7 cannot explain its fares"):
        explanation(model, trip(trained.holdout), 10.0)
