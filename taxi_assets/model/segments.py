"""The groups of trips a fare model is held to account for, and its accuracy in each.

A segment is one column's value (``pickup_borough`` = "Bronx", ``distance_band`` = "7-15 mi"). The borough, payment
and rate code columns are features and are used as they are, as category keys; ``time_of_day`` groups pickup hours
into the bands a dispatcher speaks of and ``distance_band`` groups trip distances. The promotion's segment gate,
the model card and the monitoring reports all name segments this way, and measure a segment's accuracy with
``segment_accuracy`` (RMSE, MAE with its interval, and the mean signed error).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from taxi_assets.features.categories import factorize_keys, without_missing
from taxi_assets.model.evaluation import Z_95

# (first hour, last hour, name): every hour of the day in exactly one band
TIME_OF_DAY_BANDS: Final = (
    (0, 5, "night 0-5h"),
    (6, 9, "morning rush 6-9h"),
    (10, 15, "midday 10-15h"),
    (16, 19, "evening rush 16-19h"),
    (20, 23, "evening 20-23h"),
)
TIME_OF_DAY: Final = "time_of_day"
# (upper edge in miles, name): a trip is in the first band whose edge is above its distance
DISTANCE_BANDS: Final = (
    (1.0, "under 1 mi"),
    (3.0, "1-3 mi"),
    (7.0, "3-7 mi"),
    (15.0, "7-15 mi"),
    (float("inf"), "15 mi and over"),
)
DISTANCE_BAND: Final = "distance_band"
# the columns a model is compared on per segment, in the order reports list them
FAIRNESS_SEGMENTS: Final = (
    "pickup_borough",
    "dropoff_borough",
    "payment_type",
    "RatecodeID",
    TIME_OF_DAY,
    DISTANCE_BAND,
)
UNKNOWN: Final = "unknown"

_BAND_NAMES: Final = np.array([name for _, _, name in TIME_OF_DAY_BANDS] + [UNKNOWN], dtype=object)
_BAND_OF_HOUR: Final = np.array(
    [next(i for i, (first, last, _) in enumerate(TIME_OF_DAY_BANDS) if first <= hour <= last) for hour in range(24)]
)
_BAND_LAST_HOUR: Final = np.array([last for _, last, _ in TIME_OF_DAY_BANDS])
# the name of each band code of ``time_of_day_codes``, "unknown" last
TIME_OF_DAY_KEYS: Final = list(_BAND_NAMES)
DISTANCE_KEYS: Final = [name for _, name in DISTANCE_BANDS] + [UNKNOWN]


def _numbers(values: np.ndarray) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype.kind in "iuf":
        return array.astype(np.float64, copy=False)
    return np.asarray(pd.to_numeric(pd.Series(array), errors="coerce"), dtype=np.float64)


def time_of_day_codes(hours: np.ndarray) -> np.ndarray:
    """The band of each pickup hour as a position in ``TIME_OF_DAY_KEYS`` (NaN and hours outside 0-23: "unknown").

    A band holds the hours ``first <= hour <= last``: 7.5 is in the morning rush, 9.5 in none. A table lookup.
    """
    values = _numbers(hours)
    inside = (values >= 0) & (values <= 23)  # NaN compares false
    band = _BAND_OF_HOUR[np.floor(np.where(inside, values, 0)).astype(np.intp)]
    inside &= values <= _BAND_LAST_HOUR[band]
    return np.where(inside, band, len(TIME_OF_DAY_BANDS))


def time_of_day_band(hours: np.ndarray) -> np.ndarray:
    """The band name of each pickup hour (``time_of_day_codes`` named)."""
    return _BAND_NAMES[time_of_day_codes(hours)]


def distance_codes(miles: np.ndarray) -> np.ndarray:
    """The band of each trip distance as a position in ``DISTANCE_KEYS`` (NaN and negative: "unknown")."""
    values = _numbers(miles)
    edges = np.array([edge for edge, _ in DISTANCE_BANDS])
    codes = np.searchsorted(edges, values, side="right")
    return np.where((values >= 0) & np.isfinite(values), codes, len(DISTANCE_BANDS))


def segment_codes(rows: pd.DataFrame) -> dict[str, tuple[np.ndarray, list[str]]]:
    """``(codes, keys)`` of every segment column ``rows`` can give (``factorize_keys``' form), in report order.

    Category columns missing from ``rows`` are left out; ``time_of_day`` needs ``pickup_hour`` and
    ``distance_band`` needs ``trip_distance``.
    """
    coded: dict[str, tuple[np.ndarray, list[str]]] = {}
    for column in FAIRNESS_SEGMENTS:
        if column == TIME_OF_DAY and "pickup_hour" in rows:
            coded[column] = (time_of_day_codes(rows["pickup_hour"].to_numpy()), TIME_OF_DAY_KEYS)
        elif column == DISTANCE_BAND and "trip_distance" in rows:
            coded[column] = (distance_codes(rows["trip_distance"].to_numpy()), DISTANCE_KEYS)
        elif column in rows:
            coded[column] = factorize_keys(rows[column], missing=False)
    return coded


@dataclass(frozen=True)
class SegmentAccuracy:
    """Accuracy of one segment value on matured labels, with a 95 % interval of its MAE (NaN under 2 rows)."""

    rows: int
    rmse: float
    mae: float
    bias: float
    mae_low: float = float("nan")
    mae_high: float = float("nan")


def segment_accuracy(segments: np.ndarray, actual: np.ndarray, predicted: np.ndarray) -> dict[str, SegmentAccuracy]:
    """RMSE, MAE (with its normal 95 % interval) and bias per segment value, from sums per group."""
    return segment_accuracy_of_codes(*factorize_keys(segments, missing=False), ErrorTerms.of(actual, predicted))


@dataclass(frozen=True)
class ErrorTerms:
    """Each row's signed, squared and absolute error, worked out once for every segment column."""

    signed: np.ndarray
    squared: np.ndarray
    absolute: np.ndarray

    @classmethod
    def of(cls, actual: np.ndarray, predicted: np.ndarray) -> ErrorTerms:
        """The terms of ``predicted - actual``."""
        error = predicted - actual
        return cls(error, error**2, np.abs(error))


def segment_accuracy_of_codes(codes: np.ndarray, keys: list[str], errors: ErrorTerms) -> dict[str, SegmentAccuracy]:
    """``segment_accuracy`` from each row's position in ``keys``; code -1 and keys without rows are left out."""
    # code -1 (no segment) is shifted into a slot of its own that is then dropped
    skip = 0 if without_missing(codes) else 1
    shifted, size = codes + skip, len(keys) + skip
    rows = np.bincount(shifted, minlength=size)[skip:]
    squared = np.bincount(shifted, weights=errors.squared, minlength=size)[skip:]
    absolute = np.bincount(shifted, weights=errors.absolute, minlength=size)[skip:]
    signed = np.bincount(shifted, weights=errors.signed, minlength=size)[skip:]
    keyed: dict[str, SegmentAccuracy] = {}
    for index in np.flatnonzero(rows).tolist():
        n = int(rows[index])
        mae = float(absolute[index] / n)
        # the sample variance of |error|: E|e|^2 is E e^2
        spread = np.sqrt(max(squared[index] / n - mae**2, 0.0) * n / (n - 1) / n) if n > 1 else float("nan")
        keyed[keys[index]] = SegmentAccuracy(
            rows=n,
            rmse=float(np.sqrt(squared[index] / n)),
            mae=mae,
            bias=float(signed[index] / n),
            mae_low=float(mae - Z_95 * spread),
            mae_high=float(mae + Z_95 * spread),
        )
    return dict(sorted(keyed.items()))


def accuracy_by_segment(
    rows: pd.DataFrame, actual: np.ndarray, predicted: np.ndarray
) -> dict[str, dict[str, SegmentAccuracy]]:
    """Accuracy per value of every segment column ``rows`` can give (``segment_codes``), in report order."""
    errors = ErrorTerms.of(np.asarray(actual, dtype=np.float64), np.asarray(predicted, dtype=np.float64))
    return {
        column: segment_accuracy_of_codes(codes, keys, errors) for column, (codes, keys) in segment_codes(rows).items()
    }
