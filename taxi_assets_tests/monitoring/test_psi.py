import numpy as np
import pytest
from scipy import stats

from taxi_assets.model.profile import bin_shares, quantile_edges
from taxi_assets.monitoring.psi import (
    PSI_SMOOTHING,
    PSI_THRESHOLD,
    PsiResult,
    binned_counts,
    category_psi,
    numeric_psi,
    psi_from_shares,
)


def test_identical_distributions_give_zero() -> None:
    shares = np.array([0.1, 0.2, 0.3, 0.4])
    assert psi_from_shares(shares, shares) == 0.0
    result = category_psi("payment_type", {"1": 0.6, "2": 0.4}, {"1": 60, "2": 40}, PSI_THRESHOLD)
    assert result.value == pytest.approx(0.0, abs=1e-15)
    assert not result.drifted


def test_matches_a_hand_computation() -> None:
    expected = np.array([0.25, 0.25, 0.5])
    actual = np.array([0.1, 0.4, 0.5])
    by_hand = (0.1 - 0.25) * np.log(0.1 / 0.25) + (0.4 - 0.25) * np.log(0.4 / 0.25) + 0.0
    assert psi_from_shares(expected, actual) == pytest.approx(by_hand, abs=1e-9)


def test_empty_bins_are_smoothed_not_infinite() -> None:
    value = psi_from_shares(np.array([0.5, 0.5, 0.0]), np.array([0.5, 0.4, 0.1]))
    by_hand = (0.4 - 0.5) * np.log(0.4 / 0.5) + (0.1 - PSI_SMOOTHING) * np.log(0.1 / PSI_SMOOTHING)
    assert value == pytest.approx(by_hand, abs=1e-12)


def test_a_shifted_normal_gives_the_textbook_psi() -> None:
    rng = np.random.default_rng(11)
    reference = rng.normal(0.0, 1.0, 200_000)
    window = rng.normal(0.5, 1.0, 200_000)
    edges = quantile_edges(reference, 20)
    result = numeric_psi("x", edges.tolist(), bin_shares(reference, edges).tolist(), binned_counts(window, edges), 0.2)
    # the same PSI from the exact normal probabilities of each bin
    inner = stats.norm.ppf(np.arange(1, 20) / 20)
    cdf = np.concatenate([[0.0], stats.norm.cdf(inner - 0.5), [1.0]])
    theory = psi_from_shares(np.full(20, 0.05), np.diff(cdf))
    assert result.value == pytest.approx(theory, abs=0.01)
    # and, for fine bins, PSI of two equal-variance normals approaches (shift / std)^2 = 0.25
    assert 0.2 < theory < 0.25
    assert result.drifted


def test_empty_window_gives_nan_not_zero() -> None:
    result = numeric_psi("x", [0.0, 1.0], [0.3, 0.4, 0.3], np.zeros(3, dtype=int), PSI_THRESHOLD)
    assert np.isnan(result.value)
    assert not result.judged
    assert np.isnan(category_psi("c", {"a": 1.0}, {}, PSI_THRESHOLD).value)


def test_a_new_discrete_value_is_its_own_bin() -> None:
    result = category_psi("passenger_count", {"1": 0.8, "2": 0.2}, {"1": 50, "2": 10, "7": 40}, PSI_THRESHOLD)
    assert result.bins == 3
    assert result.drifted


def test_binned_counts_use_the_profile_bins() -> None:
    counts = binned_counts(np.array([-5.0, 0.0, 0.5, 1.0, 9.0]), np.array([0.0, 1.0]))
    assert counts.tolist() == [2, 2, 1]


def test_small_windows_from_the_reference_score_the_predicted_bias_and_rarely_drift() -> None:
    rng = np.random.default_rng(4)
    reference = rng.lognormal(1.0, 0.8, size=50_000)
    edges = quantile_edges(reference, 20)
    shares = bin_shares(reference, edges).tolist()

    def windows(rows: int, threshold: float) -> list[PsiResult]:
        drawn = (binned_counts(rng.choice(reference, rows), edges) for _ in range(600))
        return [numeric_psi("x", edges.tolist(), shares, counts, threshold, reference_rows=50_000) for counts in drawn]

    for rows in (200, 1_000, 5_000):
        results = windows(rows, PSI_THRESHOLD)
        # windows drawn from the reference itself score (bins - 1) / n on average (a window from the same
        # population as the reference adds (bins - 1) / m for the reference's own sampling), and none drifts
        assert np.mean([r.value for r in results]) == pytest.approx(19 / rows, rel=0.1)
        assert results[0].bias == pytest.approx(19 * (1 / rows + 1 / 50_000))
        assert not any(r.drifted for r in results)
    # with no material threshold, the chance quantile alone fails about alpha (1 %) of windows of 1,000 rows or
    # more: binomial(600, 0.01) stays under 16 (the chi-square law is liberal below that: 2.8 % at 200 rows)
    for rows in (1_000, 5_000):
        assert sum(r.drifted for r in windows(rows, 0.0)) <= 15


def test_a_real_shift_still_drifts_in_a_small_window() -> None:
    rng = np.random.default_rng(6)
    reference = rng.normal(size=50_000)
    edges = quantile_edges(reference, 20)
    shifted = binned_counts(rng.normal(loc=1.0, size=200), edges)
    result = numeric_psi("x", edges.tolist(), bin_shares(reference, edges).tolist(), shifted, PSI_THRESHOLD, 50_000)
    assert result.corrected > PSI_THRESHOLD
    assert result.drifted
    assert result.value > result.critical > result.bias


def test_binning_by_comparison_with_each_edge_equals_a_binary_search_per_row() -> None:
    rng = np.random.default_rng(11)
    edges = np.quantile(rng.normal(size=5_000), np.linspace(0.05, 0.95, 19))
    values = np.concatenate([rng.normal(size=100_000), edges, [np.nan, -np.inf, np.inf]])  # on the edges too
    expected = np.bincount(np.digitize(values, edges, right=True), minlength=len(edges) + 1)
    assert binned_counts(values, edges).tolist() == expected.tolist()
