"""Why a fare in words: the explainer's numbers for one trip, the largest three said as a rider would say them."""

import pytest

from taxi_assets.features.columns import EXAMPLE_TRIP, FEATURES, category_key
from taxi_assets.model.fare_model import FareModel
from taxi_assets.model.reasons import described, why_this_fare
from taxi_assets.model.spec import FeatureSpec
from taxi_assets.training.export import build_onnx, explainer
from taxi_assets_tests.champions import tiny_ensemble


def test_the_fare_is_its_base_plus_the_contributions_and_the_largest_come_first_in_words() -> None:
    categories = {name: [category_key(EXAMPLE_TRIP[name])] for name in ("RatecodeID", "payment_type")}
    categories |= {name: ["Manhattan", "Queens"] for name in ("pickup_borough", "dropoff_borough")}
    model = FareModel(
        build_onnx(tiny_ensemble(1.0), len(FEATURES)).SerializeToString(), FeatureSpec(list(FEATURES), categories)
    )
    trip = {**EXAMPLE_TRIP, "trip_distance": 9.0, "trip_duration_minutes": 30.0}
    fare = model.predict_row(trip)
    why = why_this_fare(model, explainer(tiny_ensemble(1.0), len(FEATURES)), trip, fare)
    assert why.base_fare + sum(why.contributions.values()) + why.floor_adjustment == pytest.approx(fare, abs=1e-6)
    assert why.floor_adjustment == 0.0
    assert why.reasons[0].startswith("a 9-mile trip: +$")
    assert len(why.reasons) == 3


@pytest.mark.parametrize(
    ("feature", "value", "words"),
    [
        ("trip_distance", 2.4, "a 2.4-mile trip"),
        ("passenger_count", 1, "1 passenger"),
        ("pickup_hour", 7, "picked up at 07:00"),
        ("pickup_day_of_week", 2, "on a Wednesday"),
        ("pickup_month", 3, "in March"),
        ("is_rush_hour", 0, "outside rush hour"),
        ("dropoff_borough", "Queens", "dropped off in Queens"),
    ],
)
def test_reasons_say_a_features_value_as_a_rider_would(feature: str, value: object, words: str) -> None:
    assert described(feature, value) == words
