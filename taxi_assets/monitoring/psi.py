"""Population Stability Index (PSI) for numeric and discrete features and for predictions.

Feature types: continuous numeric features on the reference profile's quantile bins (open outer bins);
discrete numeric features (counts, hours, days, flags) and categories on their values.

Score: ``PSI = sum_i (a_i - e_i) * ln(a_i / e_i)`` over bins, ``e`` the reference shares and ``a`` the window's.
It is 0 for identical distributions and grows with the shift; it is symmetric in ``a`` and ``e``.
Direction: higher means more drift. Default threshold 0.2 (the usual reading: < 0.1 stable, 0.1-0.2 moderate,
> 0.2 significant). For two normals with equal variance it tends to (mean shift / std)^2 as bins get finer.

Window size: a window of ``n`` rows drawn from the reference itself (``m`` rows) scores about
``(bins - 1) * (1/n + 1/m)`` by chance alone (0.095 for 20 bins and 200 rows), and ``PSI / (1/n + 1/m)`` follows
a chi-square law with ``bins - 1`` degrees of freedom. So a feature drifts only when its PSI less that expected
chance value is over the threshold (material) *and* its PSI is over the chance law's ``1 - alpha`` quantile
(significant): a small window is not judged like a large one.

Empty bins would make the logarithm infinite, so every share is floored at ``PSI_SMOOTHING`` before the sum.
An empty window has no distribution: its PSI is NaN, never 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
from scipy.stats import chi2

from taxi_assets import constants

PSI_THRESHOLD: Final = 0.2
# Floor for a bin share of 0, in either distribution (1 row in 10,000): keeps ln() finite and lets a bin
# that is empty on one side still count, without letting a single stray row dominate the sum.
PSI_SMOOTHING: Final = 1e-4
# Significance level of one feature's chance quantile.
DRIFT_ALPHA: Final = constants.DRIFT_ALPHA


@dataclass(frozen=True)
class PsiResult:
    """PSI of one feature (or of the predictions) with the threshold that was applied."""

    feature: str
    value: float
    threshold: float
    rows: int
    bins: int
    # what a window of this size scores by chance (subtracted before the threshold), and its 1 - alpha quantile
    bias: float = 0.0
    critical: float = 0.0

    @property
    def corrected(self) -> float:
        """The PSI less its small-sample bias."""
        return self.value - self.bias

    @property
    def limit(self) -> float:
        """The PSI over which this window drifts: the threshold plus the small-sample bias, and beyond chance."""
        return max(self.threshold + self.bias, self.critical)

    @property
    def drifted(self) -> bool:
        """True when the bias-corrected PSI exceeds the threshold and the PSI is beyond chance (over ``limit``).

        NaN, an empty window, is not a pass: see ``judged``.
        """
        return bool(self.value > self.limit)

    @property
    def judged(self) -> bool:
        """False for an empty window, whose PSI is NaN."""
        return not np.isnan(self.value)


def sampling_terms(bins: int, rows: int, reference_rows: int | None, alpha: float) -> tuple[float, float]:
    """(expected value, ``1 - alpha`` quantile) of a divergence ``~ chi2(bins - 1) * (1/rows + 1/reference_rows)``.

    ``reference_rows`` None means a reference known exactly. Zeros for an empty window or a single bin.
    """
    if rows <= 0 or bins < 2:
        return 0.0, 0.0
    scale = 1.0 / rows + (1.0 / reference_rows if reference_rows else 0.0)
    return (bins - 1) * scale, float(chi2.ppf(1.0 - alpha, bins - 1)) * scale


def psi_from_shares(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSI of two aligned share vectors (each summing to 1); NaN if either is empty."""
    expected = np.asarray(expected, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    if expected.shape != actual.shape:
        raise ValueError(f"{expected.size} reference bins but {actual.size} window bins")
    if expected.size == 0 or not np.isfinite(actual).all() or actual.sum() == 0:
        return float("nan")
    e = np.maximum(expected, PSI_SMOOTHING)
    a = np.maximum(actual, PSI_SMOOTHING)
    return float(np.sum((a - e) * np.log(a / e)))


# up to this many edges, rows are binned by comparing them with each edge (faster than a binary search per row)
COMPARE_UP_TO_EDGES: Final = 64


def binned_counts(values: np.ndarray, edges: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Counts per bin of ``edges`` (right-closed, open outer bins), as the reference profile defines them.

    With ``weights``, ``values`` are distinct values and ``weights`` how often each occurs (counts from SQL,
    Spark or a value count), so a million rows bin as fast as their few thousand distinct values.
    """
    if weights is None and len(edges) <= COMPARE_UP_TO_EDGES:
        # rows at or below each edge, by one vectorized comparison per edge (no per-row binary search); a NaN is
        # above every edge, in the last bin, as np.digitize puts it
        array = np.asarray(values)
        at_or_below = [np.count_nonzero(array <= edge) for edge in edges]
        return np.diff(np.array([0, *at_or_below, len(array)], dtype=np.int64))
    bins = np.digitize(values, edges, right=True)
    counts = np.bincount(bins, weights=weights, minlength=len(edges) + 1)
    return counts.astype(np.int64) if weights is not None else counts


def numeric_psi(
    feature: str,
    edges: list[float],
    reference_shares: list[float],
    window_counts: np.ndarray,
    threshold: float,
    reference_rows: int | None = None,
    alpha: float = DRIFT_ALPHA,
) -> PsiResult:
    """PSI of a continuous feature from the window's counts on the reference bins (of ``reference_rows`` rows)."""
    rows = int(window_counts.sum())
    actual = window_counts / rows if rows else np.full(len(reference_shares), np.nan)
    value = psi_from_shares(np.asarray(reference_shares), actual) if rows else float("nan")
    bins = len(edges) + 1
    bias, critical = sampling_terms(bins, rows, reference_rows, alpha)
    return PsiResult(feature, value, threshold, rows, bins, bias, critical)


def category_psi(
    feature: str,
    reference_shares: Mapping[str, float],
    window_counts: Mapping[str, int],
    threshold: float,
    reference_rows: int | None = None,
    alpha: float = DRIFT_ALPHA,
) -> PsiResult:
    """PSI over the union of categories (or discrete values): a value never seen in the reference is a bin."""
    categories = sorted(set(reference_shares) | set(window_counts))
    rows = int(sum(window_counts.values()))
    expected = np.array([reference_shares.get(c, 0.0) for c in categories])
    value = (
        psi_from_shares(expected, np.array([window_counts.get(c, 0) for c in categories]) / rows)
        if rows
        else float("nan")
    )
    bias, critical = sampling_terms(len(categories), rows, reference_rows, alpha)
    return PsiResult(feature, value, threshold, rows, len(categories), bias, critical)
