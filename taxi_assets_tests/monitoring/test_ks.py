"""The two-sample KS test, from samples and from counts, against scipy."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from taxi_assets.monitoring.ks import COUNTS_ABOVE, ks_test, value_counts


def test_ks_matches_scipy_and_is_zero_for_identical_samples() -> None:
    rng = np.random.default_rng(5)
    reference, window = rng.normal(0, 1, 3_000), rng.normal(0.2, 1, 2_000)
    result = ks_test("trip_distance", reference, window)
    expected = stats.ks_2samp(reference, window)
    assert result.statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, abs=1e-12)
    assert result.drifted
    same = ks_test("trip_distance", reference, reference.copy())
    assert same.statistic == 0.0
    assert not same.drifted


@pytest.mark.parametrize("discrete", [False, True])
def test_ks_on_large_windows_comes_from_counts_and_agrees_with_scipy(discrete: bool) -> None:
    rng = np.random.default_rng(4)
    reference = rng.gamma(2.0, 1.5, 50_000)
    window = rng.gamma(2.0, 1.6, 200_000)
    if discrete:  # many ties, as for hour of day or passenger count
        reference, window = np.floor(reference), np.floor(window)
    ours = ks_test("x", reference, window)
    theirs = stats.ks_2samp(reference, window, method="asymp")
    assert window.size > COUNTS_ABOVE
    assert ours.statistic == pytest.approx(theirs.statistic, abs=1e-12)
    assert ours.p_value == pytest.approx(theirs.pvalue, abs=1e-3)
    same_law = rng.gamma(2.0, 1.5, 200_000)
    close = ks_test("x", reference, np.floor(same_law) if discrete else same_law)
    assert close.p_value > 1e-3 > ours.p_value


@pytest.mark.parametrize(
    "values",
    [
        np.round(np.random.default_rng(1).lognormal(0.7, 0.7, 100_000), 2),  # miles, in hundredths
        np.random.default_rng(2).integers(60, 6_000, 100_000) / 60.0,  # minutes of whole seconds
        np.random.default_rng(3).integers(0, 24, 100_000).astype(np.float64),  # hours
        np.append(np.random.default_rng(4).integers(0, 9, 1_000).astype(np.float64), [np.nan, -1.0]),  # off the grid
        np.random.default_rng(5).normal(10, 3, 10_000),  # on no grid
    ],
    ids=["hundredths", "sixtieths", "whole", "negative", "continuous"],
)
def test_counts_by_position_on_a_grid_equal_the_hash_count(values: np.ndarray) -> None:
    distinct, counts = value_counts(values)
    counted = pd.Series(values).value_counts(dropna=True).sort_index()
    assert distinct.tolist() == counted.index.tolist()  # the column's own values, exactly
    assert counts.tolist() == counted.tolist()
