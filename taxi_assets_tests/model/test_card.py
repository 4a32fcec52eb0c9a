"""The model card: every fact in its front matter and the same in words; limits found, decisions added."""

import numpy as np
import pytest

from taxi_assets.features.columns import FEATURES, TARGET
from taxi_assets.model.card import card_facts, front_matter, importance, known_limits, render, with_decision
from taxi_assets.training.export import explainer
from taxi_assets_tests.champions import BOROUGHS, synthetic_trips, tiny_ensemble

MANIFEST = {"months": ["2022-01", "2022-02"], "rows_train": 2_000, "seed": 7, "test_fraction": 0.2}


def facts(months: list[str] | None = None) -> dict[str, object]:
    trips = synthetic_trips(1_500, seed=3)
    actual = trips[TARGET].to_numpy()
    rng = np.random.default_rng(0)
    predicted = actual + rng.normal(0.2, 2.0, len(actual))
    predicted[trips["pickup_borough"].to_numpy() == "Bronx"] += 6.0  # one segment priced badly
    tree_explainer = explainer(tiny_ensemble(1.0), len(FEATURES))
    columns = trips[list(FEATURES)].copy()
    for column in ("pickup_borough", "dropoff_borough"):  # the trees split on none of them: any code will do
        columns[column] = columns[column].map({name: code for code, name in enumerate(BOROUGHS)})
    encoded = columns.to_numpy(dtype=np.float64)
    identity = {"model": "taxi-fare-green", "version": "4", "service": "green", "run_id": "abc"}
    extra = {
        "params": {"max_iter": 8},
        "checks": {"serving_artifact_parity": "passed", "fare_behaviour": "passed"},
        "features": list(FEATURES),
        "importance": importance(tree_explainer, encoded, list(FEATURES)),
    }
    manifest = MANIFEST | ({"months": months} if months else {})
    return card_facts(identity, manifest, trips, actual, predicted, extra)


def test_the_card_holds_its_months_its_segments_and_what_drives_its_fares() -> None:
    found = facts()
    assert found["training"]["months"] == ["2022-01", "2022-02"]  # type: ignore[index]
    assert found["training"]["measured_on"] == "a held-out split of the same months"  # type: ignore[index]
    bronx = found["segments"]["pickup_borough"]["Bronx"]  # type: ignore[index]
    assert bronx["bias"] == pytest.approx(6.2, abs=0.4)
    assert bronx["mae_low"] < bronx["mae"] < bronx["mae_high"]
    assert set(found["segments"]) == {  # type: ignore[arg-type]
        "pickup_borough",
        "dropoff_borough",
        "payment_type",
        "RatecodeID",
        "time_of_day",
        "distance_band",
    }
    drivers = found["importance"]["mean_abs_usd"]  # type: ignore[index]
    # the hand-written trees split on distance, duration and hour only, distance the most
    assert next(iter(drivers)) == "trip_distance"
    assert {name for name, value in drivers.items() if value > 0} <= {
        "trip_distance",
        "trip_duration_minutes",
        "pickup_hour",
    }
    assert found["importance"]["rows"] == 200  # type: ignore[index]


def test_the_rendered_card_reads_back_to_its_facts_and_says_them_in_words() -> None:
    found = facts()
    card = render(found)
    assert front_matter(card) == found
    assert "# taxi-fare-green version 4" in card
    assert "TLC green trip records of 2022-01, 2022-02" in card
    assert "Measured on a held-out split of the same months (1,500 trips)." in card
    assert "| pickup_borough | Bronx |" in card
    assert "- trip_distance: $" in card
    assert "- none yet" in card
    with pytest.raises(ValueError, match="front matter"):
        front_matter("# no front matter")


def test_limits_name_a_fare_change_after_its_months_thin_segments_and_the_worst_ones() -> None:
    limits = known_limits(facts())
    assert any("fare increase of 2022-12-19" in limit for limit in limits)
    assert any(limit.startswith("too few holdout trips to judge") and "RatecodeID=" in limit for limit in limits)
    assert any(limit.startswith("pickup_borough=Bronx: MAE $") for limit in limits)
    assert not any("fare increase" in limit for limit in known_limits(facts(months=["2023-01"])))


def test_each_decision_is_added_with_its_evidence() -> None:
    found = facts()
    decided = with_decision(found, {"id": 3, "at": "2026-12-07T10:00:00+00:00", "action": "promote", "reason": "ok"})
    decided = with_decision(decided, {"id": 9, "at": "2026-12-08T10:00:00+00:00", "action": "rollback", "reason": "x"})
    assert [d["action"] for d in decided["decisions"]] == ["promote", "rollback"]
    assert found["decisions"] == []
    card = render(decided)
    assert "- 2026-12-07T10:00:00+00:00: **promote**: ok" in card
    assert front_matter(card)["decisions"][1]["id"] == 9
