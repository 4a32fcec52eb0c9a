import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from taxi_assets.monitoring.chi_square import chi_square_test
from taxi_assets.monitoring.jensen_shannon import categorical_divergence, js_divergence, kl_divergence
from taxi_assets.monitoring.ks import COUNTS_ABOVE, ks_test

REFERENCE = {"Manhattan": 0.6, "Queens": 0.25, "Brooklyn": 0.15}


def test_js_of_identical_distributions_is_zero_and_of_disjoint_ones_is_one() -> None:
    result = categorical_divergence("pickup_borough", REFERENCE, {"Manhattan": 600, "Queens": 250, "Brooklyn": 150})
    assert result.js == pytest.approx(0.0, abs=1e-12)
    assert result.kl == pytest.approx(0.0, abs=1e-12)
    assert js_divergence(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)


def test_js_matches_scipy_squared_distance_base_2() -> None:
    p, q = np.array([0.5, 0.3, 0.2]), np.array([0.1, 0.6, 0.3])
    assert js_divergence(p, q) == pytest.approx(jensenshannon(p, q, base=2) ** 2, abs=1e-9)


def test_kl_matches_scipy_entropy() -> None:
    p, q = np.array([0.5, 0.3, 0.2]), np.array([0.1, 0.6, 0.3])
    assert kl_divergence(p, q) == pytest.approx(stats.entropy(p, q), abs=1e-9)


def test_a_new_category_is_reported_by_name_and_counts() -> None:
    result = categorical_divergence("pickup_borough", REFERENCE, {"Manhattan": 50, "Atlantis": 50})
    assert result.new_categories == ("Atlantis",)
    assert result.drifted
    assert np.isfinite(result.kl)


def test_empty_window_gives_nan() -> None:
    result = categorical_divergence("pickup_borough", REFERENCE, {})
    assert np.isnan(result.js)
    assert np.isnan(result.kl)
    assert np.isnan(ks_test("x", np.arange(10.0), np.array([])).statistic)
    assert np.isnan(chi_square_test("c", {"a": 5, "b": 5}, {}).p_value)


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


def test_chi_square_matches_scipy_and_passes_identical_counts() -> None:
    reference = {"1": 600, "2": 300, "5": 100}
    window = {"1": 500, "2": 420, "5": 80}
    result = chi_square_test("payment_type", reference, window)
    table = np.array([[600, 300, 100], [500, 420, 80]])
    statistic, p_value, _, _ = stats.chi2_contingency(table, correction=False)
    assert result.statistic == pytest.approx(statistic, abs=1e-9)
    assert result.p_value == pytest.approx(p_value, abs=1e-12)
    assert result.drifted
    same = chi_square_test("payment_type", reference, dict(reference))
    assert same.statistic == pytest.approx(0.0, abs=1e-12)
    assert same.p_value == pytest.approx(1.0)


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


def test_js_of_small_windows_from_the_reference_is_its_chance_value() -> None:
    rng = np.random.default_rng(2)
    shares = {"1": 0.6, "2": 0.3, "3": 0.07, "4": 0.03}
    results = []
    for _ in range(600):
        drawn = rng.choice(list(shares), size=300, p=list(shares.values()))
        counts = {key: int((drawn == key).sum()) for key in shares}
        results.append(categorical_divergence("payment_type", shares, counts, 0.001, reference_rows=10**6))
    # chi-square(3) / (8 ln 2 n) on average; drifted only beyond its 99 % quantile
    assert np.mean([r.js for r in results]) == pytest.approx(3 / (8 * np.log(2) * 300), rel=0.15)
    assert sum(r.drifted for r in results) <= 15
