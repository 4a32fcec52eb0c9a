"""Why a fare: the explainer's numbers for one trip, and the largest of them in words a rider would use.

``why_this_fare`` is shared by the API (``POST /predict?explain=true``, ``GET /predictions/{id}/explanation``)
and the dashboard, so both say the same of the same trip.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from taxi_assets.model.explain import FareExplainer
from taxi_assets.model.fare_model import FareModel

REASONS: Final = 3


@dataclass(frozen=True)
class WhyThisFare:
    """Base, contributions and the floor's share (summing to the fare), and the largest reasons in words."""

    base_fare: float
    contributions: dict[str, float]
    floor_adjustment: float
    reasons: list[str]


def why_this_fare(model: FareModel, explainer: FareExplainer, trip: Mapping[str, Any], fare: float) -> WhyThisFare:
    """Why ``model`` priced ``trip`` at ``fare``: exact TreeSHAP on its trees, and what the fare floor added."""
    phi = explainer.contributions(model.encode_row(trip)[0].tolist())
    contributions = dict(zip(model.spec.columns, phi, strict=True))
    total = explainer.base + sum(phi)
    largest = sorted(contributions.items(), key=lambda item: -abs(item[1]))[:REASONS]
    return WhyThisFare(
        base_fare=explainer.base,
        contributions=contributions,
        floor_adjustment=fare - total if total < explainer.floor else 0.0,
        reasons=[f"{described(name, trip[name])}: {'+' if v >= 0 else '-'}${abs(v):.2f}" for name, v in largest],
    )


# each feature's value in words, as a rider would say it
_WORDS: Final[dict[str, Callable[[Any], str]]] = {
    "trip_distance": lambda v: f"a {v:g}-mile trip",
    "trip_duration_minutes": lambda v: f"{v:g} minutes in the cab",
    "passenger_count": lambda v: f"{v:g} passenger{'s' if v != 1 else ''}",
    "pickup_hour": lambda v: f"picked up at {int(v):02d}:00",
    "pickup_day_of_week": lambda v: f"on a {calendar.day_name[int(v)]}",
    "pickup_month": lambda v: f"in {calendar.month_name[int(v)]}",
    "is_weekend": lambda v: "at the weekend" if v else "on a weekday",
    "is_rush_hour": lambda v: "in rush hour" if v else "outside rush hour",
    "RatecodeID": lambda v: f"rate code {v:g}",
    "payment_type": lambda v: f"payment type {v:g}",
    "pickup_borough": lambda v: f"picked up in {v}",
    "dropoff_borough": lambda v: f"dropped off in {v}",
}


def described(feature: str, value: Any) -> str:
    """A feature's value in words (``trip_distance`` 2.4: "a 2.4-mile trip")."""
    words = _WORDS.get(feature)
    return words(value) if words is not None else f"{feature} {value}"
