"""Evidently's side of ``make bench-drift``, run in its own environment (.venv-bench: Evidently 0.7 needs pandas < 2.3).

Usage: bench_drift_evidently.py FRAMES_DIR SIZE [SIZE ...]; reads reference.parquet and current-<size>.parquet and
prints one JSON object: {"<size>": {"psi": seconds, "default": seconds}, "version": ...}.
"""

import json
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset

NUMERIC = ["trip_distance", "passenger_count", "pickup_hour", "pickup_day_of_week", "pickup_month"]
NUMERIC += ["trip_duration_minutes", "prediction"]
CATEGORICAL = ["is_weekend", "is_rush_hour", "RatecodeID", "payment_type", "pickup_borough", "dropoff_borough"]


def dataset(frame: pd.DataFrame) -> Dataset:
    definition = DataDefinition(numerical_columns=NUMERIC, categorical_columns=CATEGORICAL)
    return Dataset.from_pandas(frame[NUMERIC + CATEGORICAL], data_definition=definition)


def seconds(preset: DataDriftPreset, reference: pd.DataFrame, current: pd.DataFrame) -> float:
    started = time.perf_counter()
    Report([preset]).run(current_data=dataset(current), reference_data=dataset(reference))
    return time.perf_counter() - started


def main() -> None:
    folder, sizes = Path(sys.argv[1]), sys.argv[2:]
    reference = pd.read_parquet(folder / "reference.parquet")
    results: dict[str, object] = {"version": version("evidently"), "pandas": version("pandas")}
    for size in sizes:
        current = pd.read_parquet(folder / f"current-{size}.parquet")
        results[size] = {
            "psi": seconds(DataDriftPreset(method="psi"), reference, current),
            "default": seconds(DataDriftPreset(), reference, current),
        }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
