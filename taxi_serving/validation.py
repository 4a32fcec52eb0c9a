"""Request validation that reports every failing field at once.

msgspec stops at the first error, so bodies are decoded to plain JSON values and checked here field by field:
types, the rules of ``contract.py``, the ranges the champion was trained on (its reference
profile), and the consistency of the derived flags. ``/schema/openapi.json`` publishes the same rules.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

from taxi_assets.features.columns import WEEKEND_DAYS, is_rush_hour
from taxi_assets.model.profile import ReferenceProfile
from taxi_serving.contract import Rule, static_rules
from taxi_serving.schemas import FieldError

# Features whose valid range comes from the reference profile (what the model has seen).
PROFILED: Final = ("trip_distance", "trip_duration_minutes", "passenger_count")


class TripValidator:
    """Checks trip features against static bounds narrowed by a champion's reference profile."""

    def __init__(self, profile: ReferenceProfile | None) -> None:
        rules = static_rules()
        if profile is not None:
            for name in PROFILED:
                numeric = profile.numeric[name]
                rule = rules[name]
                low = max(float(rule.low or 0), numeric.minimum)
                high = min(float(rule.high or 0), numeric.maximum)
                rules[name] = replace(rule, low=low, high=high)
        self.rules = rules

    def errors(self, value: Any, prefix: str = "", extra: frozenset[str] = frozenset()) -> list[FieldError]:
        """Every problem with one trip object; ``extra`` names keys allowed besides the features."""
        if not isinstance(value, dict):
            return [FieldError(field=prefix or "body", value=shown(value), constraint="a JSON object of trip features")]
        problems = [
            FieldError(field=f"{prefix}{key}", value=shown(value[key]), constraint="not an accepted field")
            for key in value
            if key not in self.rules and key not in extra
        ]
        for name, rule in self.rules.items():
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
            problems += _consistency(value, prefix)
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


def shown(value: Any) -> object:
    """The received value as echoed back: scalars as they are, anything else as a short type description."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        return "<an integer too large>"
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value[:64]
    return f"<{type(value).__name__}>"
