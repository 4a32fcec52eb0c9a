"""The chi-square test of category counts, against scipy."""

import numpy as np
import pytest
from scipy import stats

from taxi_assets.monitoring.chi_square import chi_square_test


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
