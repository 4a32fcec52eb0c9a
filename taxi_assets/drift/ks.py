"""Two-sample Kolmogorov-Smirnov test for numeric features, window against the reference sample.

Feature types: numeric (continuous or discrete). Score: the KS statistic, the largest gap between the two
empirical CDFs, in [0, 1]; 0 for identical samples. Direction: higher means more drift; the p-value (exact for
small samples, asymptotic otherwise, as scipy computes it) falls as the evidence grows. Default threshold:
p-value below 0.01. With large windows even a negligible shift is "significant", which is why the checks
count PSI and report KS beside it. An empty window gives NaN.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from scipy import stats

from taxi_assets.drift.results import PValueTestResult

KS_P_THRESHOLD: Final = 0.01


# the shared shape, under the name callers of this module use
KsResult = PValueTestResult


def ks_test(feature: str, reference: np.ndarray, window: np.ndarray, threshold: float = KS_P_THRESHOLD) -> KsResult:
    """Two-sample KS test of ``window`` against ``reference``."""
    window = np.asarray(window, dtype=np.float64)
    if window.size == 0 or np.asarray(reference).size == 0:
        return KsResult(feature, float("nan"), float("nan"), threshold, int(window.size))
    result = stats.ks_2samp(np.asarray(reference, dtype=np.float64), window)
    return KsResult(feature, float(result.statistic), float(result.pvalue), threshold, int(window.size))
