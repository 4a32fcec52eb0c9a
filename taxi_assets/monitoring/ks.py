"""Two-sample Kolmogorov-Smirnov test for numeric features, window against the reference sample.

Feature types: numeric (continuous or discrete). Score: the KS statistic, the largest gap between the two
empirical CDFs, in [0, 1]; 0 for identical samples. Direction: higher means more drift; the p-value (exact for
small samples, asymptotic otherwise, as scipy computes it) falls as the evidence grows. Windows above
``COUNTS_ABOVE`` rows are computed from value counts (the ECDFs on the union of distinct values) with the
p-value of Kolmogorov's limiting distribution, which is what makes a million rows take milliseconds; scipy's
``kstwo`` p-value at such sizes costs a tenth of a second per feature and differs by less than 1e-3. Default threshold:
p-value below 0.01. With large windows even a negligible shift is "significant", which is why the checks
count PSI and report KS beside it. An empty window gives NaN.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd
from scipy import stats

from taxi_assets.monitoring.results import PValueTestResult

KS_P_THRESHOLD: Final = 0.01


# the shared shape, under the name callers of this module use
KsResult = PValueTestResult


COUNTS_ABOVE: Final = 10_000


# Grids the numeric features live on: whole numbers (hours, passengers), hundredths (miles), sixtieths (minutes of
# whole seconds). A column all on one of them, from 0 to under ``POSITIONS`` steps, is counted by position.
GRIDS: Final = (1, 100, 60)
POSITIONS: Final = 1 << 20


def value_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values (ascending) and how often each occurs (NaN left out), linear in the rows.

    A column on one of ``GRIDS`` by ``np.bincount`` over its steps (every value checked to be exactly on it, so
    the distinct values are the column's own), anything else by a hash count.
    """
    array = np.asarray(values, dtype=np.float64)
    on_grid = _counted_on_grid(array)
    if on_grid is not None:
        return on_grid
    counted = pd.Series(array).value_counts(sort=False, dropna=True)
    order = np.argsort(counted.index.to_numpy(dtype=np.float64))
    return counted.index.to_numpy(dtype=np.float64)[order], counted.to_numpy(dtype=np.int64)[order]


def _counted_on_grid(array: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``value_counts`` of a column whose every value is a whole number of steps of one grid, else None."""
    probe = array[:1024]
    for steps in GRIDS if array.size else ():
        if not np.array_equal(np.rint(probe * steps) / steps, probe):
            continue  # the first rows already say it is not on this grid
        scaled = np.rint(array * steps)
        if not (scaled.min() >= 0 and scaled.max() < POSITIONS):  # NaN fails both
            return None
        if np.array_equal(scaled / steps, array):
            counts = np.bincount(scaled.astype(np.intp))
            present = np.flatnonzero(counts)
            return present / steps, counts[present].astype(np.int64)
    return None


def ks_from_counts(
    feature: str,
    reference: tuple[np.ndarray, np.ndarray],
    window: tuple[np.ndarray, np.ndarray],
    threshold: float = KS_P_THRESHOLD,
) -> KsResult:
    """KS test from (distinct values, counts) of both samples; asymptotic p-value."""
    n_reference, n_window = int(reference[1].sum()), int(window[1].sum())
    if n_reference == 0 or n_window == 0:
        return KsResult(feature, float("nan"), float("nan"), threshold, n_window)
    grid = np.union1d(reference[0], window[0])
    cdf_reference = _ecdf(reference, grid, n_reference)
    cdf_window = _ecdf(window, grid, n_window)
    statistic = float(np.max(np.abs(cdf_reference - cdf_window)))
    effective = n_reference * n_window / (n_reference + n_window)
    p_value = float(stats.kstwobign.sf(statistic * np.sqrt(effective)))
    return KsResult(feature, statistic, p_value, threshold, n_window)


def _ecdf(sample: tuple[np.ndarray, np.ndarray], grid: np.ndarray, total: int) -> np.ndarray:
    cumulative = np.concatenate([[0], np.cumsum(sample[1])])
    return cumulative[np.searchsorted(sample[0], grid, side="right")] / total


def ks_test(feature: str, reference: np.ndarray, window: np.ndarray, threshold: float = KS_P_THRESHOLD) -> KsResult:
    """Two-sample KS test of ``window`` against ``reference`` (from value counts above ``COUNTS_ABOVE`` rows)."""
    window = np.asarray(window, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if window.size == 0 or reference.size == 0:
        return KsResult(feature, float("nan"), float("nan"), threshold, int(window.size))
    if window.size > COUNTS_ABOVE:
        return ks_from_counts(feature, value_counts(reference), value_counts(window), threshold)
    result = stats.ks_2samp(reference, window)
    return KsResult(feature, float(result.statistic), float(result.pvalue), threshold, int(window.size))
