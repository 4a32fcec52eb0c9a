"""The Spark-free fare model on a hand-written ensemble with known answers: frames, single rows, categories."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from taxi_assets.features.columns import EXAMPLE_TRIP, FEATURES
from taxi_assets.model.fare_model import FareModel
from taxi_assets_tests.model.support import tiny_model


def trip(**changes: object) -> dict[str, object]:
    return {**EXAMPLE_TRIP, **changes}


@pytest.mark.parametrize(
    ("distance", "minutes", "hour", "fare"),
    [(1.0, 5.0, 18, 6.5), (2.0, 15.0, 18, 6.5), (2.4, 14.5, 18, 14.5), (2.4, 20.0, 3, 19.0), (12.0, 40.0, 9, 34.5)],
)
def test_a_row_is_priced_by_the_trees_as_spark_reads_them(
    distance: float, minutes: float, hour: int, fare: float
) -> None:
    row = trip(trip_distance=distance, trip_duration_minutes=minutes, pickup_hour=hour)
    assert tiny_model().predict_row(row) == pytest.approx(fare, abs=1e-12)


def test_a_frame_and_its_rows_give_the_same_fares() -> None:
    rows = pd.DataFrame([trip(trip_distance=d, trip_duration_minutes=4 * d) for d in (0.5, 3.0, 7.0)])
    model = tiny_model()
    assert model.predict(rows).tolist() == [model.predict_row(row) for row in rows.to_dict("records")]
    assert model.predict(rows.head(0)).shape == (0,)


def test_an_unknown_category_is_encoded_apart_not_refused() -> None:
    model = tiny_model()
    known, unknown = model.encode_row(trip(pickup_borough="Queens")), model.encode_row(trip(pickup_borough="Nowhere"))
    column = FEATURES.index("pickup_borough")
    assert (known[0, column], unknown[0, column]) == (1.0, 2.0)
    assert np.isfinite(model.predict_row(trip(pickup_borough="Nowhere")))


def test_a_saved_model_loads_and_prices_alike(tmp_path: Path) -> None:
    model = tiny_model(1.1)
    model.save(tmp_path)
    again = FareModel.load(tmp_path)
    assert again.spec == model.spec
    assert again.predict_row(EXAMPLE_TRIP) == model.predict_row(EXAMPLE_TRIP)


def test_small_and_large_frames_encode_categories_alike() -> None:
    """Below ``FACTORIZE_FROM_ROWS`` rows categories are keyed row by row, from it once per distinct value."""
    from taxi_assets.model.fare_model import FACTORIZE_FROM_ROWS

    rng = np.random.default_rng(3)
    size = FACTORIZE_FROM_ROWS + 44
    rows = pd.DataFrame([trip() for _ in range(size)])
    rows["pickup_borough"] = rng.choice(["Manhattan", "Queens", "Nowhere"], size)
    rows["payment_type"] = rng.choice([1.0, 2.0, 7.0], size)  # whole floats are the categories "1", "2", "7"
    model = tiny_model()
    large = model.encode(rows)
    small = np.vstack([model.encode(rows.iloc[start : start + 100]) for start in range(0, size, 100)])
    assert np.array_equal(large, small)
    assert np.array_equal(large[:5], np.vstack([model.encode_row(row) for row in rows.head(5).to_dict("records")]))


@pytest.mark.parametrize(("given", "expected"), [(None, "1"), ("0", "0")])
def test_onnxruntime_telemetry_is_off_wherever_the_fare_model_is_loaded_unless_the_environment_says(
    given: str | None, expected: str
) -> None:
    env = {key: value for key, value in os.environ.items() if key != "ORT_DISABLE_TELEMETRY"}
    if given is not None:
        env["ORT_DISABLE_TELEMETRY"] = given
    # a fresh interpreter: onnxruntime reads the setting once, when it first starts
    code = "import taxi_assets.model.fare_model, os; print(os.environ.get('ORT_DISABLE_TELEMETRY'))"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == expected
