"""The groups of trips a fare model is held to account for: boroughs, payment, rate code, time of day, distance.

A segment is one column's value (``pickup_borough`` = "Bronx", ``distance_band`` = "7-15 mi"). The borough, payment
and rate code columns are features and are used as they are, as category keys; ``time_of_day`` groups pickup hours
into the bands a dispatcher speaks of and ``distance_band`` groups trip distances. The promotion's segment gate,
the model card and the monitoring reports all name segments this way.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from taxi_assets.features.categories import factorize_keys

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
