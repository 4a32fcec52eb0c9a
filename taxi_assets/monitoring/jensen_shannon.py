"""Jensen-Shannon and Kullback-Leibler divergence for categorical features.

Feature types: categorical (and binary) features, compared over the union of the reference's and the window's
categories; a category never seen in the reference is its own bucket and is reported by name.

Scores: Jensen-Shannon divergence in base 2, in [0, 1]: 0 for identical distributions, 1 for disjoint ones;
symmetric and always finite. (It is the square of scipy's ``jensenshannon`` distance with ``base=2``.)
KL divergence ``KL(window || reference)`` in nats, 0 for identical distributions, unbounded, asymmetric; a
category absent from the reference would make it infinite, so reference shares are floored at
``KL_SMOOTHING``. Direction: higher means more drift. Default JS threshold 0.1.
Window size: for a window of ``n`` rows against a reference of ``m``, JS (in bits) times
``8 ln 2 / (1/n + 1/m)`` follows a chi-square law with ``categories - 1`` degrees of freedom under no change, so
a feature drifts only when its JS less that chance expectation is over the threshold and its JS is over the
law's ``1 - alpha`` quantile (as for PSI).
An empty window gives NaN for both, never 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from taxi_assets.monitoring.psi import DRIFT_ALPHA, sampling_terms

JS_THRESHOLD: Final = 0.1
# Floor for a reference share of 0 in KL (a category new in the window): finite, and large enough to show.
KL_SMOOTHING: Final = 1e-4


@dataclass(frozen=True)
class DivergenceResult:
    """JS and KL of one categorical feature, the threshold applied to JS, and the categories new in the window."""

    feature: str
    js: float
    kl: float
    threshold: float
    rows: int
    new_categories: tuple[str, ...] = field(default_factory=tuple)
    bias: float = 0.0
    critical: float = 0.0

    @property
    def limit(self) -> float:
        """The JS over which this window drifts: the threshold plus the small-sample bias, and beyond chance."""
        return max(self.threshold + self.bias, self.critical)

    @property
    def drifted(self) -> bool:
        """True when JS less its small-sample bias exceeds the threshold and JS is beyond chance (over ``limit``)."""
        return bool(self.js > self.limit)


def _entropy_terms(p: np.ndarray, q: np.ndarray) -> float:
    mask = p > 0
    return float(np.sum(p[mask] * np.log2(p[mask] / q[mask])))


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (base 2) of two aligned probability vectors."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    m = (p + q) / 2
    return max(0.0, 0.5 * _entropy_terms(p, m) + 0.5 * _entropy_terms(q, m))


def kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p || q) in nats, with ``q`` floored at ``KL_SMOOTHING`` and renormalised."""
    q = np.maximum(np.asarray(q, dtype=np.float64), KL_SMOOTHING)
    q = q / q.sum()
    p = np.asarray(p, dtype=np.float64)
    mask = p > 0
    return float(np.sum(p[mask] * np.log(p[mask] / q[mask])))


def categorical_divergence(
    feature: str,
    reference_shares: Mapping[str, float],
    window_counts: Mapping[str, int],
    threshold: float = JS_THRESHOLD,
    reference_rows: int | None = None,
    alpha: float = DRIFT_ALPHA,
) -> DivergenceResult:
    """JS and KL between the reference shares and the window's counts, over the union of categories."""
    categories = sorted(set(reference_shares) | set(window_counts))
    rows = int(sum(window_counts.values()))
    new = tuple(c for c in categories if c not in reference_shares and window_counts.get(c, 0) > 0)
    if rows == 0:
        return DivergenceResult(feature, float("nan"), float("nan"), threshold, 0, new)
    reference = np.array([reference_shares.get(c, 0.0) for c in categories])
    reference = reference / reference.sum()
    window = np.array([window_counts.get(c, 0) for c in categories], dtype=np.float64) / rows
    # JS in bits is about chi-square / (8 ln 2) on the same scale as PSI
    bias, critical = (term / (8 * np.log(2)) for term in sampling_terms(len(categories), rows, reference_rows, alpha))
    return DivergenceResult(
        feature,
        js_divergence(window, reference),
        kl_divergence(window, reference),
        threshold,
        rows,
        new,
        float(bias),
        float(critical),
    )
