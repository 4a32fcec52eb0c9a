"""Paired comparisons: Holm's step-down, normal p-values from sums, bootstrap intervals of a mean difference."""

import math

import numpy as np
import pytest

from taxi_assets.registry.paired_tests import bootstrap_intervals, holm, one_sided_p, two_sided_p, variance


def test_holm_steps_down_and_stops_at_the_first_hypothesis_it_keeps() -> None:
    assert holm([0.01, 0.04, 0.03, 0.005], 0.05) == [True, False, False, True]
    assert holm([0.001, 0.011, 0.02, 0.04], 0.05) == [True, True, True, True]
    assert holm([0.2, float("nan"), 0.001], 0.05) == [False, False, True]
    assert holm([], 0.05) == []


def test_p_values_are_the_normal_tails_and_a_zero_spread_decides_by_the_sign() -> None:
    assert one_sided_p(1.959964, 1.0) == pytest.approx(0.025, abs=1e-6)
    assert one_sided_p(-1.0, 1.0) == pytest.approx(0.841345, abs=1e-6)
    assert two_sided_p(-1.959964, 1.0) == pytest.approx(0.05, abs=1e-6)
    assert (one_sided_p(0.1, 0.0), one_sided_p(0.0, 0.0)) == (0.0, 1.0)
    assert (two_sided_p(-0.1, 0.0), two_sided_p(0.0, 0.0)) == (0.0, 1.0)


def test_the_variance_from_sums_is_the_sample_variance() -> None:
    values = np.random.default_rng(0).normal(3.0, 2.0, 500)
    assert variance(float(values.sum()), float((values**2).sum()), 500) == pytest.approx(values.var(ddof=1))
    assert variance(5.0, 25.0, 1) == 0.0


def test_bootstrap_intervals_cover_the_mean_difference_as_often_as_they_say() -> None:
    rng = np.random.default_rng(4)
    covered = 0
    for _ in range(200):
        champion = rng.standard_t(4, 400) * 2.0
        challenger = rng.standard_t(4, 400) * 2.0
        rows = np.arange(400)
        low_d, high_d, low_u, high_u = bootstrap_intervals(rows, challenger, champion, 0.0, 400, rng)
        covered += low_d <= 0.0 <= high_d
        assert low_u <= float(np.mean(challenger - champion)) <= high_u
    assert 0.90 <= covered / 200 <= 0.99
    assert all(math.isnan(x) for x in bootstrap_intervals(np.arange(5), np.ones(5), np.ones(5), 0.0, 0, rng))
