"""Time to the first meaningful paint of the dashboard's overview, measured in a real browser.

Usage: python scripts/bench_dashboard.py [--days 30] [--predictions 1000000] [--loads 7]
(``make bench-dashboard``; needs Debian's chromium at /usr/bin/chromium, or BENCH_CHROMIUM).

It fills a data home the way the platform does: one drift report per hour for ``--days`` days, each computed by
the platform's own report code on a window of synthetic trips against a reference profile, the incident, alerts
and decisions through the platform's stores, and ``--predictions`` rows in the prediction log (SQLite, with the
platform's indexes). Then it serves the dashboard (``python -m taxi_dashboard``) and loads the overview in fresh
browser sessions until the headline sentence ("Fare estimates are off by ...") is on screen:

  cold:    the dashboard's cache off (TAXI_DASHBOARD_CACHE_SECONDS=0): every load reads the lake and database,
           in a new browser session with an empty cache;
  warm:    the dashboard's cache on (the default), as a second viewer within 30 s sees it;
  revisit: warm, in a new tab of the same browser session (Streamlit's scripts already in its cache);
  empty:   cold on an empty data home, the baseline: Streamlit's own start-up in the browser.

Each is the median of ``--loads`` loads after one load that is not counted (it imports the dashboard's modules).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from benchutil import Figure, record

from taxi_assets.alerting import Alert, Alerter, Kind, Severity
from taxi_assets.features.columns import FEATURES
from taxi_assets.lake_storage import lake_root, write_json_atomic
from taxi_assets.model.holdout import holdout_errors
from taxi_assets.model.profile import fit_reference_profile, numeric_profile
from taxi_assets.monitoring.accuracy import AccuracyRule, HoldoutCalibration
from taxi_assets.monitoring.incidents import IncidentStore, Outcome
from taxi_assets.monitoring.report import compute_drift_report, not_counted_for
from taxi_assets.monitoring.window import report_summary
from taxi_assets.platform_db.prediction_log import PREDICTION_LOG
from taxi_assets.platform_db.schema import ensure_schema
from taxi_assets.registry.decisions import DecisionRecord, DecisionStore

HEADLINE = "Fare estimates are off by"
EMPTY_HEADLINE = "No window has been judged yet"
CHROMIUM = os.environ.get("BENCH_CHROMIUM", "/usr/bin/chromium")
BOROUGHS = ("Bronx", "Brooklyn", "Manhattan", "Queens", "Staten Island")


# the empty data home's paint: the dashboard's other paints are compared with it by make bench-check
EMPTY_FIGURE = "first paint, empty, median"


def trips(rows: int, rng: np.random.Generator, fare_scale: float = 1.0) -> pd.DataFrame:
    """Feature rows of plausible trips with an estimate and a true fare."""
    distance = np.round(np.clip(rng.lognormal(0.7, 0.7, rows), 0.1, 40.0), 2)
    duration = np.round(distance * rng.uniform(2.5, 5.0, rows) + rng.uniform(1.0, 5.0, rows), 2)
    hour = rng.integers(0, 24, rows)
    day = rng.integers(0, 7, rows)
    frame = pd.DataFrame(
        {
            "trip_distance": distance,
            "passenger_count": rng.integers(1, 5, rows).astype(float),
            "pickup_hour": hour.astype(float),
            "pickup_day_of_week": day.astype(float),
            "pickup_month": np.full(rows, 1.0),
            "trip_duration_minutes": duration,
            "is_weekend": (day >= 5).astype(float),
            "is_rush_hour": np.isin(hour, [7, 8, 9, 16, 17, 18]).astype(float),
            "RatecodeID": rng.choice([1, 1, 1, 2, 5], rows).astype(float),
            "payment_type": rng.choice([1, 1, 2, 2, 3], rows).astype(float),
            "pickup_borough": rng.choice(BOROUGHS, rows),
            "dropoff_borough": rng.choice(BOROUGHS, rows),
        }
    )
    fare = 3.0 + 2.4 * distance + 0.35 * duration
    frame["prediction"] = fare + rng.normal(0, 0.5, rows)
    frame["actual_fare"] = np.round(fare * fare_scale + rng.normal(0, 1.0, rows), 2)
    frame["fare_amount"] = frame["actual_fare"]
    return frame


def fill_reports(home: Path, days: int, rows: int, seed: int) -> str:
    """One drift report per hour for ``days`` days (the last six after a fare increase); the newest window."""
    rng = np.random.default_rng(seed)
    reference = trips(5_000, rng)
    profile = fit_reference_profile(reference, "green", ["2022-01"], 20, seed, "bench")
    errors = holdout_errors(reference, reference["actual_fare"].to_numpy(), reference["prediction"].to_numpy())
    calibration = HoldoutCalibration(errors, AccuracyRule(min_labels=100, min_segment_labels=50))
    predictions = numeric_profile(reference["prediction"].to_numpy(), 20)
    folder = lake_root(str(home / "lake")) / "drift" / "green"
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    windows = [end - timedelta(hours=hours) for hours in range(days * 24, 0, -1)]
    for index, start in enumerate(windows):
        window = trips(rows, rng, fare_scale=1.35 if index >= len(windows) - 6 else 1.0)
        report = compute_drift_report(
            profile, window, int(rng.integers(0, 5)), None, predictions, None, not_counted_for(60), calibration
        )
        key = start.strftime("%Y-%m-%d-%H:%M")
        bounds = [start.isoformat(), (start + timedelta(hours=1)).isoformat()]
        summary = {"1": report_summary(report)}
        write_json_atomic(
            folder / f"{key}.json",
            {"window": [key], "bounds": bounds, "service": "green", "champion": "1", "versions": summary},
        )
    return windows[-1].strftime("%Y-%m-%d-%H:%M")


def fill_tables(home: Path, predictions: int, days: int, newest: str, seed: int) -> None:
    """The incident, alerts and a decision through the platform's stores; ``predictions`` logged rows."""
    url = f"sqlite:///{home / 'platform.db'}"
    IncidentStore(url).record(Outcome("green", "accuracy", newest, False, True, "ERROR", "1"))
    alerter = Alerter(url)
    alerter.send(Alert(Severity.CRITICAL, Kind.CHECK_FAILED, "green", "taxi-fare-green v1: accuracy failed", {}))
    alerter.send(Alert(Severity.INFO, Kind.RETRAIN_STARTED, "green", "retraining green after accuracy failed", {}))
    DecisionStore(url).record(
        DecisionRecord("green", "taxi-fare-green", "promote", "first champion", "1", None, "1", dagster_run_id="b")
    )
    rng = np.random.default_rng(seed)
    engine = sa.create_engine(url)
    ensure_schema(engine)
    start = datetime.now(UTC) - timedelta(days=days)
    chunk = 100_000
    with engine.begin() as connection:
        for offset in range(0, predictions, chunk):
            size = min(chunk, predictions - offset)
            frame = trips(size, rng)
            seconds = rng.uniform(0, days * 86_400, size)
            rows = frame[list(FEATURES)].to_dict("records")
            for index, row in enumerate(rows):
                row |= {
                    "request_id": f"bench-{offset + index}",
                    "logged_at": start + timedelta(seconds=float(seconds[index])),
                    "endpoint": "/predict",
                    "status": "ok",
                    "status_code": 200,
                    "service": "green",
                    "model_version": "1",
                    "arm": "champion",
                    "prediction": float(frame["prediction"].iat[index]),
                    "latency_ms": float(rng.gamma(2.0, 1.5)),
                    "actual_fare": float(frame["actual_fare"].iat[index]),
                }
            connection.execute(PREDICTION_LOG.insert(), rows)
    engine.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def dashboard(home: Path, cache_seconds: int) -> Iterator[str]:
    """The dashboard on ``home``, until the block ends; its URL."""
    port = free_port()
    env = {
        **os.environ,
        "TAXI_HOME": str(home),
        "TAXI_DASHBOARD_PORT": str(port),
        "TAXI_DASHBOARD_CACHE_SECONDS": str(cache_seconds),
    }
    for key in ("TAXI_DATABASE_URL", "TAXI_LAKE_ROOT", "MLFLOW_TRACKING_URI", "TAXI_DASHBOARD_KEYS"):
        env.pop(key, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "taxi_dashboard"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def paint_times(url: str, text: str, loads: int, revisit: bool = False) -> list[float]:
    """Seconds from navigation until ``text`` is visible (the first load not kept).

    Each load is a new browser session with an empty cache, or with ``revisit`` a new tab of the same session, whose
    cache already holds Streamlit's scripts (a viewer coming back).
    """
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        shared = browser.new_context(viewport={"width": 1280, "height": 900})
        for _ in range(loads + 1):
            context = shared if revisit else browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            started = time.perf_counter()
            page.goto(url)
            page.get_by_text(text).first.wait_for(timeout=60_000)
            times.append(time.perf_counter() - started)
            page.close()
            if not revisit:
                context.close()
        browser.close()
    return times[1:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--predictions", type=int, default=1_000_000)
    parser.add_argument("--window-rows", type=int, default=600)
    parser.add_argument("--loads", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"error: no browser at {CHROMIUM}: sudo apt-get install -y chromium (or set BENCH_CHROMIUM)")
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as scratch:
        home, empty = Path(scratch) / "home", Path(scratch) / "empty"
        empty.mkdir()
        began = time.perf_counter()
        newest = fill_reports(home, args.days, args.window_rows, args.seed)
        filled = time.perf_counter()
        fill_tables(home, args.predictions, args.days, newest, args.seed)
        print(
            f"data home: {args.days * 24:,} hourly drift reports ({filled - began:.1f} s), "
            f"{args.predictions:,} logged predictions ({time.perf_counter() - filled:.1f} s)"
        )
        results = {}
        for name, where, cache, text, revisit in (
            ("cold", home, 0, HEADLINE, False),
            ("warm", home, 30, HEADLINE, False),
            ("revisit", home, 30, HEADLINE, True),
            ("empty", empty, 0, EMPTY_HEADLINE, False),
        ):
            with dashboard(where, cache) as url:
                results[name] = paint_times(url, text, args.loads, revisit)
        shutil.rmtree(home, ignore_errors=True)
    empty_median = statistics.median(results["empty"])
    print(f"\nfirst meaningful paint of the overview, median of {args.loads} loads (seconds):")
    print(f"{'run':<9}{'median':>8}{'max':>8}{'/ empty':>9}")
    for name, times in results.items():
        median = statistics.median(times)
        print(f"{name:<9}{median:>8.3f}{max(times):>8.3f}{median / empty_median:>9.2f}")
    record(
        "dashboard",
        {
            f"first paint, {name}, median": Figure(
                statistics.median(times), "s", "lower", baseline=None if name == "empty" else EMPTY_FIGURE
            )
            for name, times in results.items()
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
