"""Jensen-Shannon and KL divergence of category shares, against scipy and known answers."""

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from taxi_assets.monitoring.chi_square import chi_square_test
from taxi_assets.monitoring.jensen_shannon import categorical_divergence, js_divergence, kl_divergence
from taxi_assets.monitoring.ks import ks_test

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
