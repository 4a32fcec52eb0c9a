"""The promotion's segment gate, measured by seeded simulation on real trips: false blocks and power.

Usage: python scripts/simulate_segment_gate.py [--runs 2000] [--rows 29000] [--seed 5] [--trips-dir DIR]
(``make simulate-segment-gate``; ``TAXI_TRIPS_DIR`` or ``--trips-dir`` is the folder of the TLC files)

Each run draws a holdout of ``rows`` real green trips (2022-01..03: their boroughs, payment types, rate codes,
pickup hours, distances and fares) and two models' errors on it, then asks the platform's gate
(``taxi_assets/registry/segment_gate.py``, its default settings) whether the challenger may be promoted. Both
models share the trip's real error (its fare's residual from a least-squares fare of distance, duration and the
category columns: heavy tails, larger on long trips, averaging 0 in every category), as two fare models miss the
same odd trips, and each adds its own heavy-tailed error (Student t, 4 degrees of freedom, $0.50 plus 10 % of
the fare). In the *equal* case the two models are exchangeable
on every trip, so any block is a false one; the other cases make the challenger worse for Bronx pickups only.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from taxi_assets import constants
from taxi_assets.registry.segment_gate import SegmentRules, segment_gate

MONTHS = ("2022-01", "2022-02", "2022-03")
# (label, extra over-charge of Bronx pickups in USD, factor on the challenger's own error there)
CASES = (
    ("equal", 0.0, 1.0),
    ("Bronx over-charged $1", 1.0, 1.0),
    ("Bronx over-charged $2", 2.0, 1.0),
    ("Bronx own error x3", 0.0, 3.0),
)


def real_trips(trips_dir: Path, months: Sequence[str] = MONTHS) -> pd.DataFrame:
    """The segment columns, fare and the shared error of real green trips with a plausible fare and distance."""
    zones = pd.read_csv(trips_dir / "taxi_zone_lookup.csv").set_index("LocationID")["Borough"]
    frames = []
    for month in months:
        raw = pq.read_table(trips_dir / "green" / f"green_tripdata_{month}.parquet").to_pandas()
        minutes = (raw["lpep_dropoff_datetime"] - raw["lpep_pickup_datetime"]).dt.total_seconds() / 60.0
        frame = pd.DataFrame(
            {
                "pickup_borough": raw["PULocationID"].map(zones).fillna("Unknown").to_numpy(),
                "dropoff_borough": raw["DOLocationID"].map(zones).fillna("Unknown").to_numpy(),
                "payment_type": raw["payment_type"].fillna(5).astype(int).to_numpy(),
                "RatecodeID": raw["RatecodeID"].fillna(99).astype(int).to_numpy(),
                "pickup_hour": raw["lpep_pickup_datetime"].dt.hour.to_numpy(),
                "trip_distance": raw["trip_distance"].to_numpy(),
                "minutes": minutes.to_numpy(),
                "fare_amount": raw["fare_amount"].to_numpy(),
            }
        )
        keep = frame["fare_amount"].between(0.01, 500) & frame["trip_distance"].between(0.01, 100)
        frames.append(frame[keep & frame["minutes"].between(0.5, 300)])
    trips = pd.concat(frames, ignore_index=True)
    # a fare of distance and duration with a level per segment value, as a model with those features has: its
    # residual averages 0 in every borough, payment type, rate code and hour, as a trained model's nearly does
    levels = pd.get_dummies(
        trips[["pickup_borough", "dropoff_borough", "payment_type", "RatecodeID", "pickup_hour"]].astype(str),
        drop_first=True,
        dtype=np.float64,
    )
    design = np.column_stack([np.ones(len(trips)), trips["trip_distance"], trips["minutes"], levels.to_numpy()])
    coefficients, *_ = np.linalg.lstsq(design, trips["fare_amount"].to_numpy(), rcond=None)
    trips["shared_error"] = design @ coefficients - trips["fare_amount"].to_numpy()
    return trips


def two_models(
    holdout: pd.DataFrame, rng: np.random.Generator, over_charge: float, factor: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fares, the challenger's and the champion's predictions on ``holdout`` for one case."""
    actual = holdout["fare_amount"].to_numpy()
    scale = (0.5 + 0.1 * actual) / np.sqrt(2.0)  # t with 4 degrees of freedom has a standard deviation of sqrt(2)
    own = rng.standard_t(4, (2, len(actual))) * scale
    bronx = holdout["pickup_borough"].to_numpy() == "Bronx"
    shared = holdout["shared_error"].to_numpy()
    champion = actual + shared + own[1]
    challenger = actual + shared + own[0] * np.where(bronx, factor, 1.0) + over_charge * bronx
    return actual, challenger, champion


@dataclass(frozen=True)
class CaseResult:
    """Runs blocked, tests per run, how often each segment blocked, and the seconds one gate took."""

    blocked: int
    tests: float
    named: Counter[str]
    seconds: float


def run_case(trips: pd.DataFrame, rows: int, runs: int, case: tuple[str, float, float], seed: int) -> CaseResult:
    """Blocked runs, the segments that blocked and the seconds per gate, over ``runs`` seeded runs of one case."""
    _, over_charge, factor = case
    rules = SegmentRules(
        constants.SEGMENT_MIN_ROWS,
        constants.SEGMENT_MARGIN_USD,
        constants.SEGMENT_BIAS_LINE_USD,
        constants.SEGMENT_ALPHA,
        resamples=0,  # the intervals are shown, not tested: the verdict is the same without them
    )
    rng = np.random.default_rng(seed)
    blocked, tests, named = 0, 0, Counter[str]()
    started = time.perf_counter()
    for _ in range(runs):
        holdout = trips.iloc[rng.choice(len(trips), size=min(rows, len(trips)), replace=False)]
        actual, challenger, champion = two_models(holdout, rng, over_charge, factor)
        gate = segment_gate(holdout, actual, challenger, champion, rules)
        tests += gate.tests
        if not gate.passed:
            blocked += 1
            named.update(result.name for result in gate.blocked)
    seconds = (time.perf_counter() - started) / runs
    return CaseResult(blocked, tests / runs, named, seconds)


def upper_95(blocked: int, runs: int) -> float:
    """The one-sided 95 % upper bound of a rate from ``blocked`` of ``runs`` (Wilson's score interval)."""
    z, p = 1.6449, blocked / runs
    centre = p + z * z / (2 * runs)
    spread = z * np.sqrt(p * (1 - p) / runs + z * z / (4 * runs * runs))
    return float((centre + spread) / (1 + z * z / runs))


def main(argv: Sequence[str] | None = None) -> int:
    """Print one row per case: the share of runs blocked, its upper bound, and what blocked most often."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2_000)
    parser.add_argument("--rows", type=int, default=29_000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--trips-dir", default=os.environ.get("TAXI_TRIPS_DIR", "../shared/data/tlc"))
    parser.add_argument("--months", default=",".join(MONTHS))
    args = parser.parse_args(argv)
    trips = real_trips(Path(args.trips_dir), args.months.split(","))
    print(
        f"{args.runs:,} seeded runs per case; holdouts of {min(args.rows, len(trips)):,} of {len(trips):,} real green "
        f"trips ({args.months}); alpha {constants.SEGMENT_ALPHA}, margin ${constants.SEGMENT_MARGIN_USD}, line "
        f"${constants.SEGMENT_BIAS_LINE_USD}, segments of at least {constants.SEGMENT_MIN_ROWS} rows\n"
    )
    print(f"{'challenger':<24} {'blocked':>8} {'share':>7} {'95% upper':>9} {'tests':>6} {'ms/gate':>8}  most named")
    for index, case in enumerate(CASES):
        result = run_case(trips, args.rows, args.runs, case, args.seed + index)
        blocked, named = result.blocked, result.named.most_common(2)
        print(
            f"{case[0]:<24} {blocked:>8,} {blocked / args.runs:>7.2%} {upper_95(blocked, args.runs):>9.2%} "
            f"{result.tests:>6.0f} {1000 * result.seconds:>8.1f}  "
            + (", ".join(f"{name} ({count})" for name, count in named) or "-")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
