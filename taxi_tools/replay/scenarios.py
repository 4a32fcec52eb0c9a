"""Drift scenarios applied on top of real trips, each named, seeded and pure (a frame in, a frame out).

A scenario takes the trips in replay order (features and the true ``fare_amount``) and returns the trips to
send: inputs changed (covariate drift), labels changed (concept drift), rows re-drawn (a different mix) or
payloads broken (bad requests, in the ``invalid`` column the client sends instead of the trip).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np
import pandas as pd

from taxi_assets.features.columns import TARGET

INVALID: Final = "invalid"
# What the "new categories" scenario sends: codes the API accepts but a green 2022 reference has not seen.
NEW_CATEGORY_CODES: Final = {"RatecodeID": 6, "payment_type": 6}
# Each bad request breaks one rule the API checks; together they cover type, range, unknown and missing fields.
BAD_PAYLOADS: Final[tuple[dict[str, object], ...]] = (
    {"trip_distance": -3.0},
    {"pickup_hour": 25},
    {"pickup_borough": "Atlantis"},
    {"passenger_count": "two"},
    {"surge_multiplier": 1.5},
    {"trip_duration_minutes": None},
)


def none(trips: pd.DataFrame, strength: float, rng: np.random.Generator) -> pd.DataFrame:
    """The real trips as they are."""
    return trips.copy()


def gradual(trips: pd.DataFrame, strength: float, rng: np.random.Generator) -> pd.DataFrame:
    """Trips grow longer over the window; the last trips are the most changed.

    Distance and duration scale from 1 to ``1 + strength``, and more passengers ride.
    """
    out = trips.copy()
    ramp = np.linspace(0.0, 1.0, len(out))
    scale = 1.0 + strength * ramp
    out["trip_distance"] = out["trip_distance"] * scale
    out["trip_duration_minutes"] = out["trip_duration_minutes"] * scale
    extra = rng.random(len(out)) < ramp * min(1.0, strength)
    out["passenger_count"] = np.where(extra, np.minimum(out["passenger_count"] + 2, 6), out["passenger_count"])
    return out


def sudden(trips: pd.DataFrame, strength: float, rng: np.random.Generator) -> pd.DataFrame:
    """From the middle of the window on, trips are ``1 + strength`` times longer and paid in cash.

    An upstream change at one moment: a new dispatch area, a payment outage.
    """
    out = trips.copy()
    after = np.arange(len(out)) >= len(out) // 2
    out.loc[after, "trip_distance"] *= 1.0 + strength
    out.loc[after, "trip_duration_minutes"] *= 1.0 + strength
    out.loc[after, "payment_type"] = 2
    return out


def concept(trips: pd.DataFrame, strength: float, rng: np.random.Generator) -> pd.DataFrame:
    """The same trips cost ``1 + strength`` times as much (a fare increase): inputs unchanged, labels moved."""
    out = trips.copy()
    out[TARGET] = out[TARGET] * (1.0 + strength)
    return out


def seasonal(trips: pd.DataFrame, strength: float, rng: np.random.Generator) -> pd.DataFrame:
    """The hour-of-day mix follows a night-heavy daily cycle (peak at 23:00).

    Trips are re-drawn with weight ``exp(strength * cos(2 pi (hour - 23) / 24))``.
    """
    weight = np.exp(strength * np.cos(2 * np.pi * (trips["pickup_hour"].to_numpy() - 23) / 24))
    chosen = rng.choice(len(trips), size=len(trips), replace=True, p=weight / weight.sum())
    return trips.iloc[np.sort(chosen)].reset_index(drop=True)


def new_categories(trips: pd.DataFrame, strength: float, rng: np.random.Generator) -> pd.DataFrame:
    """A share ``strength`` of trips carries codes the reference has not seen (``NEW_CATEGORY_CODES``)."""
    out = trips.copy()
    hit = rng.random(len(out)) < strength
    for column, code in NEW_CATEGORY_CODES.items():
        out.loc[hit, column] = code
    return out


def bad_requests(trips: pd.DataFrame, strength: float, rng: np.random.Generator) -> pd.DataFrame:
    """A share ``strength`` of requests is invalid, each breaking one rule of ``BAD_PAYLOADS`` in turn."""
    out = trips.copy()
    payloads: list[dict[str, object] | None] = [None] * len(out)
    for position, row in enumerate(np.flatnonzero(rng.random(len(out)) < strength)):
        payloads[row] = BAD_PAYLOADS[position % len(BAD_PAYLOADS)]
    out[INVALID] = pd.Series(payloads, index=out.index, dtype=object)
    return out


Scenario = Callable[[pd.DataFrame, float, np.random.Generator], pd.DataFrame]
SCENARIOS: Final[dict[str, tuple[Scenario, float]]] = {
    # name: (function, default strength)
    "none": (none, 0.0),
    "gradual": (gradual, 1.5),
    "sudden": (sudden, 1.5),
    "concept": (concept, 0.35),
    "seasonal": (seasonal, 2.0),
    "new_categories": (new_categories, 0.3),
    "bad_requests": (bad_requests, 0.1),
}


def apply(name: str, trips: pd.DataFrame, strength: float | None = None, seed: int = 0) -> pd.DataFrame:
    """Apply the named scenario (its default strength unless given), seeded.

    Raises:
        ValueError: the name is not a scenario.
    """
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose one of {', '.join(SCENARIOS)}")
    function, default = SCENARIOS[name]
    return function(
        trips.reset_index(drop=True), default if strength is None else strength, np.random.default_rng(seed)
    )
