"""Benchmark the drift report: seconds at 10k, 100k and 1M logged rows, beside Evidently's on the same frames.

Usage: python scripts/bench_drift.py [TLC folder] [--evidently-python PATH]   (``make bench-drift``)

Reference: the real green 2022-01..03 trips (about 194,000 rows after the outlier rules), from which the
reference profile is fitted (20 quantile bins, category shares); the same rows are the KS / chi-square sample.
Current windows: real green 2023-01 trips drawn with replacement (seeded) to each size. The prediction column is
a least-squares fare on distance and duration fitted on the reference (the report's cost does not depend on the
model). Our time is the whole ``compute_drift_report`` (PSI, JS/KL, KS, chi-square, prediction PSI, accuracy
overall and per segment), best of five, with the Spark session that built the features stopped first (a
monitoring run has none). Evidently 0.7 runs ``DataDriftPreset(method="psi")`` and its default methods on the
same 13 columns, once per size, in its own environment (it needs pandas < 2.3).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
from benchutil import Figure, cpu_model, record

from taxi_assets.assets.features import trip_features
from taxi_assets.assets.ingestion import raw_trips, taxi_zones
from taxi_assets.definitions import build_resources
from taxi_assets.features.columns import FEATURES, TARGET
from taxi_assets.features.schema import read_feature_table
from taxi_assets.model.profile import fit_reference_profile, numeric_profile
from taxi_assets.monitoring.report import compute_drift_report
from taxi_assets.partitions import month_service_key
from taxi_assets.resources import DataLake

REFERENCE_MONTHS = ("2022-01", "2022-02", "2022-03")
CURRENT_MONTH = "2023-01"
SIZES = (10_000, 100_000, 1_000_000)
REPEATS = 5
TARGET_SECONDS_AT_1M = 0.25
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
EVIDENTLY_SCRIPT = Path(__file__).with_name("bench_drift_evidently.py")


def month_features(folder: Path, home: Path, months: list[str]) -> dict[str, pd.DataFrame]:
    """The months' trip features, computed by the pipeline's own assets in a temporary data home."""
    resources = build_resources({"TAXI_HOME": str(home), "TAXI_TRIPS_DIR": str(folder)})
    instance = dg.DagsterInstance.ephemeral()
    dg.materialize([taxi_zones], resources=resources, instance=instance, run_config=QUIET)
    lake = DataLake(root=str(home / "lake"))
    frames = {}
    for month in months:
        key = str(month_service_key(month, "green"))
        dg.materialize([raw_trips, trip_features], resources=resources, instance=instance, partition_key=key)
        frames[month] = read_feature_table(lake.committed_features("green", month))
    return frames


def stop_spark() -> None:
    """Stop the Spark session that built the features: the report runs in a monitoring run, which has no JVM."""
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is not None:
        session.stop()


def with_predictions(frame: pd.DataFrame, coefficients: np.ndarray) -> pd.DataFrame:
    design = np.column_stack([np.ones(len(frame)), frame["trip_distance"], frame["trip_duration_minutes"]])
    out = frame[[*FEATURES, TARGET]].copy()
    out["prediction"] = design @ coefficients
    out["actual_fare"] = out[TARGET]
    return out


def our_seconds(reference: pd.DataFrame, current: pd.DataFrame) -> float:
    profile = fit_reference_profile(reference, "green", list(REFERENCE_MONTHS), 20, 7, "bench")
    prediction_profile = numeric_profile(reference["prediction"].to_numpy(), 20)
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        compute_drift_report(profile, current, 0, reference, prediction_profile)
        best = min(best, time.perf_counter() - started)
    return best


def evidently_seconds(python: Path, frames_dir: Path) -> dict[str, dict[str, float]] | str:
    if not python.exists():
        return f"{python} not found (make bench-drift creates it from scripts/bench-evidently.lock)"
    completed = subprocess.run(
        [str(python), str(EVIDENTLY_SCRIPT), str(frames_dir), *map(str, SIZES)],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        return f"Evidently failed: {completed.stderr.strip().splitlines()[-1:]}"
    return dict(json.loads(completed.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default="../shared/data/tlc", type=Path)
    parser.add_argument("--evidently-python", default=".venv-bench/bin/python", type=Path)
    args = parser.parse_args()
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as temp:
        home = Path(temp)
        frames = month_features(args.folder, home, [*REFERENCE_MONTHS, CURRENT_MONTH])
        stop_spark()
        reference_raw = pd.concat([frames[m] for m in REFERENCE_MONTHS], ignore_index=True)
        design = np.column_stack(
            [np.ones(len(reference_raw)), reference_raw["trip_distance"], reference_raw["trip_duration_minutes"]]
        )
        coefficients = np.linalg.lstsq(design, reference_raw[TARGET].to_numpy(), rcond=None)[0]
        reference = with_predictions(reference_raw, coefficients)
        month = with_predictions(frames[CURRENT_MONTH], coefficients)
        rng = np.random.default_rng(0)
        frames_dir = home / "frames"
        frames_dir.mkdir()
        reference.to_parquet(frames_dir / "reference.parquet")
        currents = {}
        for size in SIZES:
            currents[size] = month.iloc[rng.integers(0, len(month), size)].reset_index(drop=True)
            currents[size].to_parquet(frames_dir / f"current-{size}.parquet")
        print(f"reference: {len(reference):,} rows (green {', '.join(REFERENCE_MONTHS)}), current: {CURRENT_MONTH}")
        ours = {size: our_seconds(reference, currents[size]) for size in SIZES}
        theirs = evidently_seconds(args.evidently_python, frames_dir)
    header = f"{'rows':>10}{'ours s':>10}{'Evidently psi s':>17}{'ratio':>8}{'Evidently default s':>21}{'ratio':>8}"
    if isinstance(theirs, str):
        print(f"Evidently skipped: {theirs}")
    else:
        print(f"Evidently {theirs.get('version')} (pandas {theirs.get('pandas')})")
    print(header)
    for size in SIZES:
        line = f"{size:>10,}{ours[size]:>10.3f}"
        if not isinstance(theirs, str):
            psi, default = theirs[str(size)]["psi"], theirs[str(size)]["default"]
            line += f"{psi:>17.2f}{psi / ours[size]:>7.0f}x{default:>21.2f}{default / ours[size]:>7.0f}x"
        print(line)
    verdict = "meets" if ours[SIZES[-1]] < TARGET_SECONDS_AT_1M else "MISSES"
    print(f"1M rows: {ours[SIZES[-1]]:.3f} s, {verdict} the {TARGET_SECONDS_AT_1M:.2f} s target")
    record("drift", drift_figures(ours, theirs))
    return 0


def drift_figures(ours: dict[int, float], theirs: dict[str, dict[str, float]] | str) -> dict[str, Figure]:
    """What ``make bench-check`` compares: our seconds per size, against Evidently's of the same run where it ran."""
    if isinstance(theirs, str):
        return {f"report at {size:,} rows": Figure(seconds, "s", "lower") for size, seconds in ours.items()}
    figures = {}
    for size, seconds in ours.items():
        evidently = f"Evidently psi at {size:,} rows"
        figures[evidently] = Figure(theirs[str(size)]["psi"], "s", "lower")
        figures[f"report at {size:,} rows"] = Figure(seconds, "s", "lower", baseline=evidently)
        figures[f"Evidently psi / ours at {size:,} rows"] = Figure(theirs[str(size)]["psi"] / seconds, "x", "higher")
    return figures


if __name__ == "__main__":
    sys.exit(main())
