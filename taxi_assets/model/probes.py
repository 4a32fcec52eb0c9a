"""Model behaviour probes and single-row latency, measured the same way for every model version."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from taxi_assets.features.columns import FEATURES, time_features
from taxi_assets.model.fare_model import FareModel

PROBE_DISTANCES_MILES: Final = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 15.0, 20.0)
PROBE_SPEED_MPH: Final = 12.0


DEFAULT_PROBE_MONTH: Final = "2022-03"


def probe_pickup(month: str) -> pd.Timestamp:
    """14:00 on the second Wednesday of ``month`` (YYYY-MM): a weekday afternoon outside rush hours."""
    eighth = pd.Timestamp(f"{month}-08 14:00")
    return eighth + pd.Timedelta(days=(2 - eighth.weekday()) % 7)


def distance_probes(month: str = DEFAULT_PROBE_MONTH) -> pd.DataFrame:
    """Standard-rate Manhattan -> Manhattan probe trips that differ only in distance.

    Credit card, one passenger, a weekday afternoon of ``month``, a steady 12 mph (so the duration follows the
    distance). The month should be one the model was trained on: ``pickup_month`` is a feature, and a month
    it never saw (or saw only in a few rows) says little about the model.
    """
    pickup = probe_pickup(month)
    rows = []
    for miles in PROBE_DISTANCES_MILES:
        dropoff = pickup + pd.Timedelta(hours=miles / PROBE_SPEED_MPH)
        rows.append(
            {
                "trip_distance": miles,
                "passenger_count": 1,
                **time_features(pickup.to_pydatetime(), dropoff.to_pydatetime()),
                "RatecodeID": 1,
                "payment_type": 1,
                "pickup_borough": "Manhattan",
                "dropoff_borough": "Manhattan",
            }
        )
    return pd.DataFrame(rows)[list(FEATURES)]


@dataclass(frozen=True)
class BehaviourResult:
    """Largest drop in predicted fare between consecutive distances, and whether scoring is repeatable."""

    largest_drop_usd: float
    deterministic: bool
    predictions: list[float]

    def passed(self, tolerance_usd: float) -> bool:
        """Fare never falls by more than ``tolerance_usd`` as distance grows, and scoring is repeatable."""
        return self.deterministic and self.largest_drop_usd <= tolerance_usd


def behaviour(model: FareModel, month: str = DEFAULT_PROBE_MONTH) -> BehaviourResult:
    """Score the distance probes (pickups in ``month``) twice."""
    probes = distance_probes(month)
    first, second = model.predict(probes), model.predict(probes)
    drops = first[:-1] - first[1:]
    return BehaviourResult(
        largest_drop_usd=float(max(drops.max(), 0.0)),
        deterministic=bool(np.array_equal(first, second)),
        predictions=[round(float(value), 4) for value in first],
    )


@dataclass(frozen=True)
class Latency:
    """Single-row latency percentiles in milliseconds."""

    p50_ms: float
    p99_ms: float


def single_row_latency(models: dict[str, FareModel], rows: pd.DataFrame, repeats: int) -> dict[str, Latency]:
    """Time one-row predictions (encoding included) for each model, interleaved so load affects all alike."""
    records: list[dict[str, object]] = [
        {str(key): value for key, value in record.items()} for record in rows[list(FEATURES)].to_dict("records")
    ]
    timings: dict[str, list[float]] = {name: [] for name in models}
    for model in models.values():  # warm-up
        model.predict_row(records[0])
    for repeat in range(repeats):
        record = records[repeat % len(records)]
        for name, model in models.items():
            started = time.perf_counter()
            model.predict_row(record)
            timings[name].append((time.perf_counter() - started) * 1000.0)
    return {
        name: Latency(p50_ms=float(np.percentile(values, 50)), p99_ms=float(np.percentile(values, 99)))
        for name, values in timings.items()
    }
