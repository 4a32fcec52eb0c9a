"""A window's accuracy per segment, and what its report keeps for people to look at: distributions, time of day.

``labelled_accuracy`` measures accuracy on the matured labels, overall and per segment, and hands the errors to
the holdout's calibration, which judges them. ``distributions`` puts a window's shares beside the reference's, bin
for bin (the same bins the PSI was computed on), so a drifted feature can be drawn as two histograms.
``segment_accuracy`` breaks accuracy down per segment value with an interval; the pickup hours' time-of-day bands
(``model.segments``) are one more segment (described, not judged: the holdout has no such column).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from taxi_assets.features.categories import category_counts, factorize_keys
from taxi_assets.features.columns import BINARY_FEATURES, CATEGORICAL_FEATURES
from taxi_assets.model.holdout import SEGMENTS
from taxi_assets.model.profile import DISCRETE_FEATURES, NumericProfile, ReferenceProfile
from taxi_assets.model.segments import (
    TIME_OF_DAY,
    TIME_OF_DAY_KEYS,
    ErrorTerms,
    SegmentAccuracy,
    segment_accuracy_of_codes,
    time_of_day_codes,
)
from taxi_assets.monitoring.accuracy import AccuracyJudgement, HoldoutCalibration
from taxi_assets.monitoring.psi import binned_counts

# the logged columns accuracy is measured on
PREDICTION: Final = "prediction"
ACTUAL: Final = "actual_fare"


@dataclass(frozen=True)
class Distribution:
    """One feature's shares per bin (or category) in the reference and in the window, in the same order."""

    labels: list[str]
    reference: list[float]
    window: list[float]


def bin_labels(edges: list[float]) -> list[str]:
    """Readable names of the bins of ``edges``: open outer bins, right-closed inner ones."""
    if not edges:
        return ["all"]
    inner = [f"{low:.4g} to {high:.4g}" for low, high in itertools.pairwise(edges)]
    return [f"up to {edges[0]:.4g}", *inner, f"over {edges[-1]:.4g}"]


def distributions(
    profile: ReferenceProfile, window: pd.DataFrame, predictions: NumericProfile | None = None
) -> dict[str, Distribution]:
    """Every feature of ``window`` beside the reference: numeric ones on its quantile bins, the others by value.

    With the reference's ``predictions`` profile, the window's ``prediction`` column too (on its bins). A category
    the reference never saw is listed with a reference share of 0.
    """
    binned: dict[str, np.ndarray] = {}
    if predictions is not None and "prediction" in window:
        values = pd.to_numeric(window["prediction"], errors="coerce").dropna().to_numpy(dtype=np.float64)
        binned["prediction"] = binned_counts(values, np.asarray(predictions.edges))
    for name, numeric in profile.numeric.items():
        if name in DISCRETE_FEATURES or name not in window:
            continue
        values = pd.to_numeric(window[name], errors="coerce").dropna().to_numpy(dtype=np.float64)
        binned[name] = binned_counts(values, np.asarray(numeric.edges))
    by_value = {name: category_counts(window[name].dropna()) for name in _by_value(profile) if name in window}
    return distributions_from_counts(profile, binned, by_value, predictions)


def _by_value(profile: ReferenceProfile) -> dict[str, dict[str, float]]:
    """The reference's shares of the features drawn by value: discrete numbers, flags and categories."""
    shares = {name: profile.discrete[name].shares for name in DISCRETE_FEATURES if name in profile.discrete}
    return shares | {name: profile.categorical[name].shares for name in (*BINARY_FEATURES, *CATEGORICAL_FEATURES)}


def distributions_from_counts(
    profile: ReferenceProfile,
    binned: dict[str, np.ndarray],
    by_value: dict[str, dict[str, int]],
    predictions: NumericProfile | None = None,
) -> dict[str, Distribution]:
    """``distributions`` from counts already made, as the drift statistics counted them: no row is read again.

    ``binned``: rows per reference bin (the numeric features and ``prediction``); ``by_value``: rows per category
    key (the rest).
    """
    out: dict[str, Distribution] = {}
    if predictions is not None and "prediction" in binned:
        counts = binned["prediction"]
        out["prediction"] = Distribution(bin_labels(predictions.edges), list(predictions.shares), _shares(counts))
    for name, numeric in profile.numeric.items():
        if name in DISCRETE_FEATURES or name not in binned:
            continue
        out[name] = Distribution(bin_labels(numeric.edges), list(numeric.shares), _shares(binned[name]))
    for name, reference in _by_value(profile).items():
        if name not in by_value:
            continue
        seen = by_value[name]
        labels = sorted(set(reference) | set(seen), key=_natural)
        total = max(sum(seen.values()), 1)
        out[name] = Distribution(
            labels, [float(reference.get(k, 0.0)) for k in labels], [float(seen.get(k, 0)) / total for k in labels]
        )
    return out


def _shares(counts: np.ndarray) -> list[float]:
    total = float(counts.sum())
    return [float(c) / total if total else 0.0 for c in counts.tolist()]


def _natural(key: str) -> tuple[int, float, str]:
    """Numbers in numeric order first, then names."""
    try:
        return 0, float(key), ""
    except ValueError:
        return 1, 0.0, key


def _accuracy(errors: ErrorTerms) -> SegmentAccuracy:
    """RMSE, MAE and bias over every row, from the error terms the segments use (NaN without rows)."""
    rows = len(errors.signed)
    if not rows:
        return SegmentAccuracy(rows=0, rmse=float("nan"), mae=float("nan"), bias=float("nan"))
    rmse = float(np.sqrt(np.mean(errors.squared)))
    return SegmentAccuracy(
        rows=rows, rmse=rmse, mae=float(np.mean(errors.absolute)), bias=float(np.mean(errors.signed))
    )


@dataclass(frozen=True)
class LabelledAccuracy:
    """Accuracy on a window's matured labels: overall, per segment, and against the holdout's calibration."""

    labelled_rows: int
    overall: SegmentAccuracy
    by_segment: dict[str, dict[str, SegmentAccuracy]]
    calibrated: AccuracyJudgement | None


def labelled_accuracy(
    scored: pd.DataFrame, calibration: HoldoutCalibration | None, coded: dict[str, tuple[np.ndarray, list[str]]]
) -> LabelledAccuracy:
    """Accuracy on the rows whose true fare has arrived, overall, per segment, and against the calibration.

    ``coded`` holds segment columns of ``scored`` already coded (``factorize_keys``); the others are coded here.
    """
    actual = scored[ACTUAL].to_numpy(dtype=np.float64) if ACTUAL in scored else np.full(len(scored), np.nan)
    matured = ~np.isnan(actual)
    everything = bool(matured.all())  # a window whose fares have all arrived is used as it is, without copies
    actual = actual if everything else actual[matured]
    predicted = scored[PREDICTION].to_numpy(dtype=np.float64) if len(actual) else np.array([])
    predicted = predicted if everything or not len(actual) else predicted[matured]
    present = [segment for segment in SEGMENTS if segment in scored]
    calibrated = None
    if calibration is not None:
        segments = {segment: scored[segment].to_numpy()[matured] for segment in present}
        calibrated = calibration.judge(predicted - actual, segments)
    by_segment, errors = {}, ErrorTerms.of(actual, predicted)
    for segment in present:
        codes, keys = coded[segment] if segment in coded else factorize_keys(scored[segment], missing=False)
        by_segment[segment] = segment_accuracy_of_codes(codes if everything else codes[matured], keys, errors)
    if "pickup_hour" in scored:
        bands = time_of_day_codes(scored["pickup_hour"].to_numpy())
        by_segment[TIME_OF_DAY] = segment_accuracy_of_codes(
            bands if everything else bands[matured], TIME_OF_DAY_KEYS, errors
        )
    return LabelledAccuracy(len(actual), _accuracy(errors), by_segment, calibrated)
