"""Benchmark raw -> features: rows/s and wall time per full green month, projected to a yellow month.

Usage: python scripts/bench_features.py [TLC folder]   (``make bench-features``)

Each month runs ``raw_trips`` and ``trip_features`` through ``dagster.materialize`` exactly as the pipeline
does, in a temporary data home. The first run also pays the Spark session start; it is reported apart
(``cold``) and the throughput figure is the mean of the warm runs.
"""

import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
from benchutil import Figure, cpu_model, record

from taxi_assets.assets.features import trip_features
from taxi_assets.assets.ingestion import raw_trips, taxi_zones
from taxi_assets.definitions import build_resources
from taxi_assets.partitions import month_service_key

YELLOW_MONTH_ROWS = 3_000_000
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def main(folder: Path) -> int:
    months = sorted(
        p.name.removeprefix("green_tripdata_").removesuffix(".parquet") for p in folder.rglob("green_*.parquet")
    )
    if not months:
        print(f"no green_tripdata_*.parquet under {folder}", file=sys.stderr)
        return 1
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as home:
        resources = build_resources({"TAXI_HOME": home, "TAXI_TRIPS_DIR": str(folder)})
        instance = dg.DagsterInstance.ephemeral()
        dg.materialize([taxi_zones], resources=resources, instance=instance, run_config=QUIET)
        rates: list[float] = []
        print(f"{'month':<10}{'rows in':>10}{'rows out':>10}{'raw s':>8}{'features s':>12}{'total s':>9}{'rows/s':>10}")
        for position, month in enumerate(months):
            key = str(month_service_key(month, "green"))
            timings: dict[str, float] = {}
            rows: dict[str, int] = {}
            for asset, name in ((raw_trips, "raw"), (trip_features, "features")):
                started = time.perf_counter()
                result = dg.materialize(
                    [asset], resources=resources, instance=instance, partition_key=key, run_config=QUIET
                )
                timings[name] = time.perf_counter() - started
                (event,) = result.get_asset_materialization_events()
                metadata = event.step_materialization_data.materialization.metadata
                rows[name] = int(metadata["rows_in"].value)  # type: ignore[arg-type]
                if name == "features":
                    rows["out"] = int(metadata["rows_out"].value)  # type: ignore[arg-type]
            total = timings["raw"] + timings["features"]
            rate = rows["raw"] / total
            label = f"{month}{' cold' if position == 0 else ''}"
            print(
                f"{label:<10}{rows['raw']:>10,}{rows['out']:>10,}{timings['raw']:>8.2f}"
                f"{timings['features']:>12.2f}{total:>9.2f}{rate:>10,.0f}"
            )
            if position > 0:
                rates.append(rate)
    warm = sum(rates) / len(rates) if rates else rate
    print(f"\nwarm throughput: {warm:,.0f} rows/s (mean of {len(rates)} warm months)")
    print(
        f"projected raw -> features for a {YELLOW_MONTH_ROWS:,}-row yellow month: {YELLOW_MONTH_ROWS / warm:,.0f} s "
        "(linear in rows; the fixed per-run overhead makes this an upper bound)"
    )
    record("features", {"raw -> features, warm months": Figure(warm, "rows/s", "higher")})
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data/tlc")))
