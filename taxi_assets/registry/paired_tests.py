"""The statistics of paired comparisons on the same trips: normal p-values, Holm's procedure, bootstrap intervals.

Pure functions on sums and arrays, shared by the promotion's segment gate.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np


def holm(p_values: list[float], alpha: float) -> list[bool]:
    """Holm's step-down: which hypotheses are rejected with the family-wise error at ``alpha``.

    The k-th smallest p-value (from 0) is compared with ``alpha / (m - k)``; rejection stops at the first that is not
    below its line. A NaN p-value is never rejected.
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: (math.isnan(p_values[i]), p_values[i]))
    rejected = [False] * m
    for k, i in enumerate(order):
        if math.isnan(p_values[i]) or p_values[i] > alpha / (m - k):
            break
        rejected[i] = True
    return rejected


def variance(total: float, squares: float, n: int) -> float:
    """The sample variance from a sum and a sum of squares (0 under 2 rows)."""
    if n < 2:
        return 0.0
    return max(squares - total * total / n, 0.0) / (n - 1)


def one_sided_p(mean: float, se: float) -> float:
    """P(Z >= mean / se): small when the mean is well above 0."""
    if se == 0.0:
        return 0.0 if mean > 0 else 1.0
    return 0.5 * math.erfc(mean / se / math.sqrt(2.0))


def two_sided_p(mean: float, se: float) -> float:
    """P(|Z| >= |mean| / se)."""
    if se == 0.0:
        return 0.0 if mean != 0 else 1.0
    return math.erfc(abs(mean) / se / math.sqrt(2.0))


_CHUNK: Final = 250


def bootstrap_intervals(
    rows: np.ndarray, e_c: np.ndarray, e_h: np.ndarray, mean_u: float, resamples: int, rng: np.random.Generator
) -> tuple[float, float, float, float]:
    """95 % paired bootstrap percentile intervals of the MAE difference and of the gap difference in ``rows``.

    The segment's rows are resampled, the holdout's overall mean held at its value; NaN without resamples.
    """
    if not resamples or len(rows) < 2:
        return (float("nan"),) * 4
    d = (np.abs(e_c) - np.abs(e_h))[rows]
    u = (e_c - e_h)[rows]
    means_d, means_u = [], []
    for start in range(0, resamples, _CHUNK):
        picked = rng.integers(0, len(rows), size=(min(_CHUNK, resamples - start), len(rows)))
        means_d.append(d[picked].mean(axis=1))
        means_u.append(u[picked].mean(axis=1))
    low_d, high_d = np.percentile(np.concatenate(means_d), [2.5, 97.5])
    low_u, high_u = np.percentile(np.concatenate(means_u) - mean_u, [2.5, 97.5])
    return float(low_d), float(high_d), float(low_u), float(high_u)
