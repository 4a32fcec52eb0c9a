"""Synthetic training frames with the model's features, for the drift statistics' tests."""

import numpy as np
import pandas as pd

from taxi_assets.features.columns import TARGET


def synthetic_train(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    hours = rng.integers(0, 24, rows)
    days = rng.integers(0, 7, rows)
    return pd.DataFrame(
        {
            "trip_distance": rng.exponential(3.0, rows) + 0.1,
            "passenger_count": rng.choice([1, 1, 1, 2, 5], rows),
            "pickup_hour": hours,
            "pickup_day_of_week": days,
            "pickup_month": rng.integers(1, 4, rows),
            "trip_duration_minutes": rng.gamma(3.0, 5.0, rows) + 1,
            "is_weekend": (days >= 5).astype(int),
            "is_rush_hour": ((days < 5) & (hours >= 7) & (hours < 10)).astype(int),
            "RatecodeID": rng.choice([1, 1, 1, 5, 99], rows),
            "payment_type": rng.choice([1, 2], rows),
            "pickup_borough": rng.choice(["Manhattan", "Queens", "Brooklyn"], rows),
            "dropoff_borough": rng.choice(["Manhattan", "Bronx"], rows),
            TARGET: rng.gamma(2.0, 7.0, rows) + 2.5,
        }
    )
