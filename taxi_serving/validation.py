"""Request validation that reports every failing field at once.

msgspec stops at the first error, so bodies are decoded to plain JSON values and checked here field by field:
types, the rules of ``features.trip_rules`` under the outlier bounds the champion was trained with (its reference
profile records them), the trip's average speed and the consistency of the derived flags. The training pipeline's
pandera schema and Spark outlier rules come from the same table, so the API accepts exactly the trips training
kept. ``/schema/openapi.json`` publishes the same rules.
"""

from __future__ import annotations

from typing import Any

from taxi_assets.features.columns import FEATURES, TARGET, WEEKEND_DAYS, is_rush_hour
from taxi_assets.features.trip_rules import DEFAULT_BOUNDS, Rule, average_speed, speed_range, trip_rules
from taxi_assets.model.profile import ReferenceProfile
from taxi_serving.schemas import FieldError


class TripValidator:
    """Checks trips against the trip rules under a champion's outlier bounds (the defaults without a champion)."""

    def __init__(self, profile: ReferenceProfile | None) -> None:
        bounds = profile.outlier_bounds() if profile is not None else DEFAULT_BOUNDS
        # the 12 features and the fare (``TARGET``: what /feedback accepts)
        self.rules = trip_rules(bounds)
        self.speed = speed_range(bounds)

    def fare_errors(self, fare: Any) -> list[FieldError]:
        """The problem with a true fare sent to /feedback: the fare rule training kept its rows by."""
        rule = self.rules[TARGET]
        if _fits(fare, rule):
            return []
        return [FieldError(field="actual_fare", value=shown(fare), constraint=rule.describe())]

    def errors(self, value: Any, prefix: str = "", extra: frozenset[str] = frozenset()) -> list[FieldError]:
        """Every problem with one trip object; ``extra`` names keys allowed besides the features."""
        if not isinstance(value, dict):
            return [FieldError(field=prefix or "body", value=shown(value), constraint="a JSON object of trip features")]
        problems = [
            FieldError(field=f"{prefix}{key}", value=shown(value[key]), constraint="not an accepted field")
            for key in value
            if (key not in self.rules or key == TARGET) and key not in extra
        ]
        for name in FEATURES:
            rule = self.rules[name]
            if name not in value:
                problems.append(
                    FieldError(field=f"{prefix}{name}", value=None, constraint=f"required: {rule.describe()}")
                )
                continue
            if not _fits(value[name], rule):
                problems.append(
                    FieldError(field=f"{prefix}{name}", value=shown(value[name]), constraint=rule.describe())
                )
        if not problems:
            problems += _consistency(value, prefix) + _speed(value, prefix, self.speed)
        return problems


def _fits(value: Any, rule: Rule) -> bool:
    if rule.kind is str:
        return isinstance(value, str) and value in rule.allowed
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    # a JSON integer can have any number of digits: never through float() (beyond a double it overflows), and
    # Python compares an int with the float bounds exactly
    if rule.kind is int and isinstance(value, float) and not value.is_integer():
        return False
    if rule.allowed:
        return value in rule.allowed
    return rule.low is not None and rule.high is not None and rule.low <= value <= rule.high


def _consistency(value: dict[str, Any], prefix: str) -> list[FieldError]:
    """The two flags are functions of day and hour; a body that contradicts them is not a real trip."""
    problems = []
    weekend = int(value["pickup_day_of_week"] in WEEKEND_DAYS)
    if value["is_weekend"] != weekend:
        problems.append(
            FieldError(
                field=f"{prefix}is_weekend",
                value=value["is_weekend"],
                constraint=f"{weekend} for pickup_day_of_week {value['pickup_day_of_week']} (Saturday=5, Sunday=6)",
            )
        )
    rush = int(is_rush_hour(int(value["pickup_hour"]), int(value["pickup_day_of_week"])))
    if value["is_rush_hour"] != rush:
        problems.append(
            FieldError(
                field=f"{prefix}is_rush_hour",
                value=value["is_rush_hour"],
                constraint=f"{rush} for pickup_hour {value['pickup_hour']} on day {value['pickup_day_of_week']} "
                "(weekdays 07:00-09:59 and 16:00-19:59)",
            )
        )
    return problems


def _speed(value: dict[str, Any], prefix: str, speed: tuple[float, float]) -> list[FieldError]:
    """A trip's average speed within the range training kept (the Spark rule computes it the same way)."""
    distance, minutes = value["trip_distance"], value["trip_duration_minutes"]
    mph = average_speed(float(distance), float(minutes))
    if mph is not None and speed[0] <= mph <= speed[1]:
        return []
    low, high = speed[0] * minutes / 60.0, speed[1] * minutes / 60.0
    return [
        FieldError(
            field=f"{prefix}trip_distance",
            value=distance,
            constraint=f"an average speed in [{speed[0]:g}, {speed[1]:g}] mph: over {minutes:g} minutes, "
            f"a distance in [{low:.4g}, {high:.4g}] miles",
        )
    ]


def shown(value: Any) -> object:
    """The received value as echoed back: scalars as they are, anything else as a short type description."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        return "<an integer too large>"
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value[:64]
    return f"<{type(value).__name__}>"


# the rules under the default outlier bounds: what /feedback checks while no champion is loaded
DEFAULT_VALIDATOR = TripValidator(None)
