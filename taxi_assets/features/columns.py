"""The 12 model features and the target, defined once for training and serving (no Spark import here).

``features.spark`` computes them in PySpark for training; ``time_features`` computes the time-derived ones in
plain Python for the API, and a test checks both agree.

Conventions:

* ``pickup_day_of_week``: Monday = 0 ... Sunday = 6 (Python's ``datetime.weekday()``).
* ``is_weekend``: Saturday or Sunday (day of week 5 or 6).
* ``is_rush_hour``: Monday-Friday, pickup hour in 07:00-09:59 or 16:00-19:59 local time.
* ``trip_duration_minutes``: dropoff minus pickup, in minutes.
* Timestamps are the TLC's local New York wall-clock times, used as they are.
* A null ``RatecodeID`` becomes 99 (unknown) and a null ``payment_type`` 5 (unknown), a null
  ``passenger_count`` becomes 1 (the TLC meter default); each replacement is counted, none is dropped.
* Boroughs come from the zone lookup; LocationIDs 264 and 265 (and any unmatched one) are "Unknown".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

NUMERIC_FEATURES: Final = (
    "trip_distance",
    "passenger_count",
    "pickup_hour",
    "pickup_day_of_week",
    "pickup_month",
    "trip_duration_minutes",
)
BINARY_FEATURES: Final = ("is_weekend", "is_rush_hour")
CATEGORICAL_FEATURES: Final = ("RatecodeID", "payment_type", "pickup_borough", "dropoff_borough")
FEATURES: Final = NUMERIC_FEATURES + BINARY_FEATURES + CATEGORICAL_FEATURES
# whole numbers by nature: integers in the model's signature and in the API's contract (the rest are decimals
# and borough names)
INTEGER_FEATURES: Final = (
    "passenger_count",
    "pickup_hour",
    "pickup_day_of_week",
    "pickup_month",
    "is_weekend",
    "is_rush_hour",
    "RatecodeID",
    "payment_type",
)
DECIMAL_FEATURES: Final = ("trip_distance", "trip_duration_minutes")
# one ordinary trip: the demo's sample request and the API documentation's example
EXAMPLE_TRIP: Final = {
    "trip_distance": 2.4,
    "passenger_count": 1,
    "pickup_hour": 18,
    "pickup_day_of_week": 2,
    "pickup_month": 3,
    "trip_duration_minutes": 14.5,
    "is_weekend": 0,
    "is_rush_hour": 1,
    "RatecodeID": 1,
    "payment_type": 1,
    "pickup_borough": "Manhattan",
    "dropoff_borough": "Manhattan",
}
TARGET: Final = "fare_amount"
TRIP_ID: Final = "trip_id"
PICKUP_DATETIME: Final = "pickup_datetime"
FEATURE_TABLE_COLUMNS: Final = (TRIP_ID, PICKUP_DATETIME, *FEATURES, TARGET)

UNKNOWN_RATECODE: Final = 99
UNKNOWN_PAYMENT_TYPE: Final = 5
DEFAULT_PASSENGER_COUNT: Final = 1
UNKNOWN_BOROUGH: Final = "Unknown"
UNKNOWN_LOCATION_IDS: Final = (264, 265)
# [start, end) local hours of the weekday rush.
RUSH_HOURS: Final = ((7, 10), (16, 20))
WEEKEND_DAYS: Final = (5, 6)
# Indexed categorical columns in the Spark pipeline carry this suffix; the export strips it again.
INDEX_SUFFIX: Final = "_index"


@dataclass(frozen=True)
class OutlierBounds:
    """Inclusive bounds of the named outlier rules applied to feature rows."""

    min_distance_miles: float
    max_distance_miles: float
    min_duration_minutes: float
    max_duration_minutes: float
    min_speed_mph: float
    max_speed_mph: float
    min_fare_usd: float
    max_fare_usd: float
    min_passengers: int
    max_passengers: int


def category_key(value: object) -> str:
    """The string Spark's StringIndexer saw for a value: whole numbers without a decimal point."""
    if isinstance(value, float) and float(value).is_integer():
        return str(int(value))
    return str(value)


def is_rush_hour(hour: int, day_of_week: int) -> bool:
    """Weekday (Monday=0 .. Friday=4) pickup within one of ``RUSH_HOURS``."""
    return day_of_week not in WEEKEND_DAYS and any(start <= hour < end for start, end in RUSH_HOURS)


def time_features(pickup: datetime, dropoff: datetime) -> dict[str, float | int]:
    """The time-derived features of one trip, exactly as ``build_trip_features`` computes them in Spark."""
    day_of_week = pickup.weekday()
    return {
        "pickup_hour": pickup.hour,
        "pickup_day_of_week": day_of_week,
        "pickup_month": pickup.month,
        "trip_duration_minutes": (dropoff - pickup).total_seconds() / 60.0,
        "is_weekend": int(day_of_week in WEEKEND_DAYS),
        "is_rush_hour": int(is_rush_hour(pickup.hour, day_of_week)),
    }
