"""Chi-square test of homogeneity for categorical features, window counts against the reference counts.

Feature types: categorical and binary. Score: the chi-square statistic of the 2 x k contingency table
(reference counts, window counts) over the union of categories, and its p-value; identical distributions give
statistic 0 and p-value 1. Direction: a lower p-value means more drift. Default threshold: p-value below 0.01.
Categories absent from both rows are dropped (they carry no information); an empty window gives NaN.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import numpy as np
from scipy import stats

from taxi_assets.monitoring.results import PValueTestResult

CHI2_P_THRESHOLD: Final = 0.01


# the shared shape, under the name callers of this module use
ChiSquareResult = PValueTestResult


def chi_square_test(
    feature: str,
    reference_counts: Mapping[str, int],
    window_counts: Mapping[str, int],
    threshold: float = CHI2_P_THRESHOLD,
) -> ChiSquareResult:
    """Chi-square test of homogeneity between reference and window category counts."""
    categories = sorted(
        c
        for c in set(reference_counts) | set(window_counts)
        if reference_counts.get(c, 0) + window_counts.get(c, 0) > 0
    )
    rows = int(sum(window_counts.values()))
    if rows == 0 or sum(reference_counts.values()) == 0:
        return ChiSquareResult(feature, float("nan"), float("nan"), threshold, rows)
    if len(categories) < 2:
        return ChiSquareResult(feature, 0.0, 1.0, threshold, rows)
    table = np.array([[reference_counts.get(c, 0) for c in categories], [window_counts.get(c, 0) for c in categories]])
    statistic, p_value, _, _ = stats.chi2_contingency(table, correction=False)
    return ChiSquareResult(feature, float(statistic), float(p_value), threshold, rows)
