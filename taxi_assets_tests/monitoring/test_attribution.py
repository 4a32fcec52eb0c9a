"""What drives the fares in a window against at training: a drifted feature the trees use moves them, others not."""

from pathlib import Path

import pytest

from taxi_assets.model.explain import EXPLAIN_FILE, FareExplainer
from taxi_assets.model.fare_model import FareModel
from taxi_assets.monitoring.attribution import ATTRIBUTION_ROWS, attribution, mean_contributions
from taxi_assets_tests.champions import Trained, synthetic_trips, tiny_champions


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    return tiny_champions(tmp_path_factory.mktemp("tiny"))


def loaded(tiny: Trained) -> tuple[FareModel, FareExplainer]:
    folder: Path = tiny.serving_dirs["a"]
    return FareModel.load(folder), FareExplainer.from_json((folder / EXPLAIN_FILE).read_text())


def test_longer_trips_move_the_distance_contribution_and_a_feature_the_trees_ignore_moves_nothing(
    tiny: Trained,
) -> None:
    model, explainer = loaded(tiny)
    reference = synthetic_trips(2_000, seed=1)
    window = synthetic_trips(2_000, seed=2)
    window["trip_distance"] *= 3.0
    window["trip_duration_minutes"] *= 3.0
    window["passenger_count"] = 4  # drifted, but no tree splits on it
    found = attribution(model, explainer, window, reference)
    assert found is not None
    assert (found.reference_rows, found.window_rows) == (ATTRIBUTION_ROWS, ATTRIBUTION_ROWS)
    assert found.window["trip_distance"] > 1.25 * found.reference["trip_distance"]
    assert found.reference["passenger_count"] == found.window["passenger_count"] == 0.0
    assert found.movers(["trip_distance", "passenger_count"]) == ["trip_distance"]
    # the same traffic moves nothing
    same = attribution(model, explainer, synthetic_trips(2_000, seed=3), reference)
    assert same is not None
    assert same.movers(["trip_distance", "trip_duration_minutes", "pickup_hour"]) == []


def test_the_mean_is_of_absolute_contributions_over_a_seeded_sample(tiny: Trained) -> None:
    model, explainer = loaded(tiny)
    rows = synthetic_trips(50, seed=4)
    means, count = mean_contributions(model, explainer, rows)
    assert count == 50
    encoded = model.encode(rows)
    by_hand = [abs(explainer.contributions(row.tolist())[0]) for row in encoded]
    assert means["trip_distance"] == pytest.approx(sum(by_hand) / 50)
    assert mean_contributions(model, explainer, rows.iloc[:0]) == ({}, 0)


def test_a_version_without_trees_or_reference_has_no_attribution(tiny: Trained) -> None:
    model, explainer = loaded(tiny)
    rows = synthetic_trips(20, seed=5)
    assert attribution(model, None, rows, rows) is None
    assert attribution(model, explainer, rows, None) is None
    assert attribution(model, explainer, rows.iloc[:0], rows) is None
