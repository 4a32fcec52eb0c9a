"""What schemathesis cannot read from JSON Schema: a trip's average speed ties its distance to its duration.

The OpenAPI document states the rule in words (``contract.trip_schema``); this hook, loaded through
``SCHEMATHESIS_HOOKS``, brings the distance of each generated valid trip inside it, so a body schemathesis calls
valid is one the API must accept. Bodies generated to be invalid are left as they are.
"""

from typing import Any

import schemathesis

from taxi_assets.features.trip_rules import DEFAULT_BOUNDS, speed_range, trip_rules

RULES = trip_rules(DEFAULT_BOUNDS)  # the test champion's bounds (its reference profile records the defaults)
SPEED = speed_range(DEFAULT_BOUNDS)


def within_speed(trip: Any) -> None:
    """Move ``trip_distance`` inside the speed range when both fields are valid numbers."""
    if not isinstance(trip, dict):
        return
    distance, minutes = trip.get("trip_distance"), trip.get("trip_duration_minutes")
    numbers = [value for value in (distance, minutes) if isinstance(value, int | float) and not isinstance(value, bool)]
    if len(numbers) < 2 or not RULES["trip_duration_minutes"].low <= minutes <= RULES["trip_duration_minutes"].high:
        return
    low_distance, high_distance = RULES["trip_distance"].span()
    # a hair inside, so the speed computed from the stored doubles is inside too
    low = max(low_distance, SPEED[0] * minutes / 60.0 * (1 + 1e-9))
    high = min(high_distance, SPEED[1] * minutes / 60.0 * (1 - 1e-9))
    if low <= high:
        trip["trip_distance"] = min(max(distance, low), high)


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    if case.meta is None or not case.meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return case
    within_speed(case.body)
    for trip in case.body.get("trips", []) if isinstance(case.body.get("trips"), list) else []:
        within_speed(trip)
    return case
