"""``POST /predict?explain=true``: what each feature added to the fare, in dollars and in words.

The served version's own trees answer (``taxi_assets.model.explain``: exact TreeSHAP on the trees the version
was trained with, no JVM): ``base_fare`` + the contributions + ``floor_adjustment`` is the fare returned. Without
the flag none of this runs; a version registered before its trees were exported cannot explain (409).
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import parse_qsl

from taxi_serving.errors import ConflictError
from taxi_serving.model_store import LoadedModel
from taxi_serving.schemas import Explanation, FieldError

EXPLAIN_PARAMETER: Final = "explain"
_ANSWERS: Final = {"true": True, "1": True, "false": False, "0": False}
REASONS: Final = 3


def wants_explanation(query_string: bytes, errors: list[FieldError]) -> bool:
    """Whether the query string asks for an explanation; a value that is not a yes or no is added to ``errors``."""
    if not query_string:
        return False
    wanted = False
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if key != EXPLAIN_PARAMETER:
            continue
        if value.lower() not in _ANSWERS:
            errors.append(FieldError(field=EXPLAIN_PARAMETER, value=value[:64], constraint="true, false, 1 or 0"))
            return False
        wanted = _ANSWERS[value.lower()]
    return wanted


def explanation(model: LoadedModel, trip: Mapping[str, Any], fare: float) -> Explanation:
    """Why ``model`` priced ``trip`` at ``fare``: its base, each feature's contribution and the floor's, in USD."""
    explainer = model.explainer
    if explainer is None:
        raise ConflictError(
            f"model version {model.version} cannot explain its fares: it was registered before versions carried "
            "their trees for explanations; retrain it, or ask without explain"
        )
    phi = explainer.contributions(model.model.encode_row(trip)[0].tolist())
    contributions = dict(zip(model.model.spec.columns, phi, strict=True))
    total = explainer.base + sum(phi)
    largest = sorted(contributions.items(), key=lambda item: -abs(item[1]))[:REASONS]
    return Explanation(
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
