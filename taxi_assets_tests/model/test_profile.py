import numpy as np
import pandas as pd
import pytest

from taxi_assets.features.columns import FEATURES, TARGET
from taxi_assets.model.profile import (
    ReferenceProfile,
    bin_shares,
    fit_reference_profile,
    quantile_edges,
    reference_sample,
)
from taxi_assets_tests.monitoring.frames import synthetic_train


def test_quantile_edges_of_a_uniform_grid_are_its_deciles() -> None:
    values = np.arange(1, 101, dtype=float)
    edges = quantile_edges(values, bins=10)
    assert edges.tolist() == [10, 20, 30, 40, 50, 60, 70, 80, 90]
    shares = bin_shares(values, edges)
    assert shares.tolist() == pytest.approx([0.1] * 10)


def test_discrete_values_merge_duplicate_edges() -> None:
    values = np.array([1] * 90 + [2] * 9 + [6], dtype=float)
    edges = quantile_edges(values, bins=20)
    assert edges.tolist() == [1.0, 2.0]
    assert bin_shares(values, edges).tolist() == pytest.approx([0.9, 0.09, 0.01])


def test_outer_bins_are_open() -> None:
    edges = np.array([0.0, 10.0])
    shares = bin_shares(np.array([-100.0, 0.0, 5.0, 10.0, 1e9]), edges)
    # (-inf, 0], (0, 10], (10, inf)
    assert shares.tolist() == pytest.approx([0.4, 0.4, 0.2])


def test_quantile_bins_of_an_empty_column_are_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        quantile_edges(np.array([]), bins=20)


def test_fitted_profile_has_twenty_bins_per_continuous_feature_and_shares_summing_to_one() -> None:
    train = synthetic_train(20_000)
    profile = fit_reference_profile(train, "green", ["2022-01"], bins=20, seed=7, training_set_hash="abc")
    for name in ("trip_distance", "trip_duration_minutes"):
        assert len(profile.numeric[name].shares) == 20
        assert sum(profile.numeric[name].shares) == pytest.approx(1.0)
        assert max(profile.numeric[name].shares) == pytest.approx(0.05, abs=0.002)
    # edges 1, 2, 5: the open bin above 5 is empty in the reference and catches larger values later
    assert profile.numeric["passenger_count"].edges == [1.0, 2.0, 5.0]
    assert profile.numeric["passenger_count"].shares[-1] == 0.0
    assert profile.categorical["RatecodeID"].shares["99"] == pytest.approx(0.2, abs=0.01)
    assert set(profile.categorical["is_weekend"].shares) == {"0", "1"}
    # discrete features are also profiled value by value
    assert set(profile.discrete["passenger_count"].shares) == {"1", "2", "5"}
    assert len(profile.discrete["pickup_hour"].shares) == 24
    distance = profile.numeric["trip_distance"]
    assert distance.minimum <= distance.robust_low < distance.robust_high <= distance.maximum
    assert profile.target.mean == pytest.approx(train[TARGET].mean())


def test_profile_json_round_trips() -> None:
    profile = fit_reference_profile(synthetic_train(2_000), "green", ["2022-01"], 20, 7, "abc")
    assert ReferenceProfile.from_json(profile.to_json()) == profile


def test_reference_sample_is_seeded_and_keeps_row_order() -> None:
    train = synthetic_train(1_000)
    first, second = reference_sample(train, 100, seed=3), reference_sample(train, 100, seed=3)
    pd.testing.assert_frame_equal(first, second)
    assert list(first.columns) == [*FEATURES, TARGET]
    assert not first.equals(reference_sample(train, 100, seed=4))
    assert len(reference_sample(train, 5_000, seed=3)) == 1_000


def test_an_empty_training_split_is_refused() -> None:
    with pytest.raises(ValueError, match="no training rows"):
        fit_reference_profile(synthetic_train(10).iloc[:0], "green", [], 20, 7, "")
