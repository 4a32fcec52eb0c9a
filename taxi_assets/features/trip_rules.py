"""What a valid trip is, written once: the table of rules the pipeline and the API both generate their checks from.

``trip_rules`` gives one ``Rule`` per feature and for the fare; ``speed_range`` the one rule across two fields
(the average speed). From them come the pandera feature schema (``features.schema``), the Spark outlier rules
(``features.spark``) and the API's validator and OpenAPI document (``taxi_serving.contract``), so training,
monitoring and serving accept exactly the same trips. The outlier bounds a model was trained with travel with it
(in its reference profile), and the API holds requests to those.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Final

from taxi_assets import constants
from taxi_assets.features.columns import RUSH_HOURS, TARGET, WEEKEND_DAYS, OutlierBounds

BOROUGHS: Final = ("Bronx", "Brooklyn", "EWR", "Manhattan", "Queens", "Staten Island", "Unknown")
RATECODE_IDS: Final = constants.RATECODE_IDS
PAYMENT_TYPES: Final = constants.PAYMENT_TYPES
DEFAULT_BOUNDS: Final = OutlierBounds(
    min_distance_miles=constants.MIN_TRIP_DISTANCE_MILES,
    max_distance_miles=constants.MAX_TRIP_DISTANCE_MILES,
    min_duration_minutes=constants.MIN_TRIP_DURATION_MINUTES,
    max_duration_minutes=constants.MAX_TRIP_DURATION_MINUTES,
    min_speed_mph=constants.MIN_SPEED_MPH,
    max_speed_mph=constants.MAX_SPEED_MPH,
    min_fare_usd=constants.MIN_FARE_USD,
    max_fare_usd=constants.MAX_FARE_USD,
    min_passengers=constants.MIN_PASSENGER_COUNT,
    max_passengers=constants.MAX_PASSENGER_COUNT,
)


@dataclass(frozen=True)
class Rule:
    """How one field is checked: its type and either an inclusive range or an allowed set."""

    kind: type
    low: float | None = None
    high: float | None = None
    allowed: tuple[object, ...] = ()
    description: str = ""

    def span(self) -> tuple[float, float]:
        """The inclusive range of a ranged rule."""
        if self.low is None or self.high is None:
            raise ValueError(f"a rule with allowed values has no range: {self.allowed}")
        return self.low, self.high

    def describe(self) -> str:
        """The constraint as an error message states it."""
        if self.allowed:
            return f"one of {list(self.allowed)}"
        noun = "an integer" if self.kind is int else "a number"
        return f"{noun} in [{self.low:g}, {self.high:g}]"


def trip_rules(bounds: OutlierBounds) -> dict[str, Rule]:
    """The rules of the 12 features and of the fare (``TARGET``), under ``bounds``."""
    return {
        "trip_distance": Rule(float, bounds.min_distance_miles, bounds.max_distance_miles, description="Miles."),
        "passenger_count": Rule(int, bounds.min_passengers, bounds.max_passengers),
        "pickup_hour": Rule(int, 0, 23),
        "pickup_day_of_week": Rule(int, 0, 6, description="Monday = 0 ... Sunday = 6."),
        "pickup_month": Rule(int, 1, 12),
        "trip_duration_minutes": Rule(float, bounds.min_duration_minutes, bounds.max_duration_minutes),
        "is_weekend": Rule(int, 0, 1, description=f"1 exactly when pickup_day_of_week is one of {list(WEEKEND_DAYS)}."),
        "is_rush_hour": Rule(
            int, 0, 1, description=f"1 exactly on weekdays with pickup_hour in {rush_hours()} (07-10 and 16-20)."
        ),
        "RatecodeID": Rule(int, allowed=RATECODE_IDS),
        "payment_type": Rule(int, allowed=PAYMENT_TYPES),
        "pickup_borough": Rule(str, allowed=BOROUGHS),
        "dropoff_borough": Rule(str, allowed=BOROUGHS),
        TARGET: Rule(float, bounds.min_fare_usd, bounds.max_fare_usd, description="US dollars, the metered fare."),
    }


def speed_range(bounds: OutlierBounds) -> tuple[float, float]:
    """The inclusive range of a trip's average speed in miles per hour (``average_speed``)."""
    return bounds.min_speed_mph, bounds.max_speed_mph


def average_speed(distance_miles: float, duration_minutes: float) -> float | None:
    """Miles per hour, computed exactly as the Spark rule computes it; None for a trip of no duration."""
    return distance_miles / (duration_minutes / 60.0) if duration_minutes > 0 else None


def rush_hours() -> list[int]:
    """The hours of a weekday that are rush hours."""
    return [hour for hour in range(24) if any(start <= hour < end for start, end in RUSH_HOURS)]


def bounds_record(bounds: OutlierBounds) -> dict[str, float]:
    """The bounds as they are written into a manifest or a reference profile."""
    return {name: float(value) for name, value in asdict(bounds).items()}


def bounds_from(record: dict[str, Any] | None) -> OutlierBounds:
    """Bounds read back from ``bounds_record``; the defaults for what an older file did not record."""
    given = record or {}
    values = {field.name: given.get(field.name, getattr(DEFAULT_BOUNDS, field.name)) for field in fields(OutlierBounds)}
    values["min_passengers"], values["max_passengers"] = int(values["min_passengers"]), int(values["max_passengers"])
    return OutlierBounds(**values)


def widest(all_bounds: list[OutlierBounds]) -> OutlierBounds:
    """The bounds that accept every row any of ``all_bounds`` accepts (a training set over months written apart)."""
    if not all_bounds:
        return DEFAULT_BOUNDS
    values: dict[str, Any] = {}
    for field in fields(OutlierBounds):
        pick = min if field.name.startswith("min_") else max
        values[field.name] = pick(getattr(bounds, field.name) for bounds in all_bounds)
    return OutlierBounds(**values)
