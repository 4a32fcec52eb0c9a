"""The two-sample KS test, from samples and from counts, against scipy."""

import numpy as np
import pytest
from scipy import stats

from taxi_assets.monitoring.ks import COUNTS_ABOVE, ks_test


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
