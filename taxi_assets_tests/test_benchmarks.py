"""The benchmark scripts on tiny input, so they cannot rot (their figures come from the full runs in the README)."""

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from taxi_assets.features.schema import read_feature_table
from taxi_assets_tests.support import PROJECT_ROOT, featurize_month, write_trip_file

sys.path.insert(0, str(PROJECT_ROOT / "scripts"))
import bench_check
import bench_drift
import bench_features
import bench_model
import benchutil

pytestmark = pytest.mark.slow  # runs the benchmark scripts on real months


@pytest.mark.slow
def test_bench_features_runs_end_to_end_on_a_small_month(trips_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (trips_dir / "green").mkdir()
    for month in ("2022-01", "2022-02"):
        write_trip_file(trips_dir / "green", "green", month, 1_500)
    assert bench_features.main(trips_dir) == 0
    printed = capsys.readouterr().out
    assert "2022-01 cold" in printed
    assert "warm throughput:" in printed
    assert "rows/s" in printed


def test_bench_features_says_when_there_is_nothing_to_measure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench_features.main(tmp_path) == 1
    assert "no green_tripdata_*.parquet" in capsys.readouterr().err


@pytest.fixture(scope="module")
def drift_frames(spark, tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame]:  # type: ignore[no-untyped-def]
    """A reference and a current window of real green 2022-02 trips, with a prediction column."""
    frame = read_feature_table(featurize_month(spark, "2022-02", tmp_path_factory.mktemp("drift"))).head(12_000)
    coefficients = np.array([3.0, 2.5, 0.3])
    reference = bench_drift.with_predictions(frame.head(2_000), coefficients)
    current = bench_drift.with_predictions(frame.tail(10_000), coefficients)
    return reference, current.reset_index(drop=True)


def test_bench_drift_times_our_report_and_skips_evidently_when_its_environment_is_missing(
    drift_frames: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    reference, current = drift_frames
    assert (reference["prediction"] > 0).all()
    seconds = bench_drift.our_seconds(reference, current)
    assert 0 < seconds < 30
    skipped = bench_drift.evidently_seconds(tmp_path / "no-python", tmp_path)
    assert isinstance(skipped, str)
    assert "not found" in skipped


def test_bench_model_percentiles_are_in_milliseconds() -> None:
    p50, p99 = bench_model.percentiles_ms([0.001] * 98 + [0.010, 0.020])
    assert p50 == pytest.approx(1.0)
    assert 1.0 < p99 <= 20.0


def test_bench_check_fails_on_a_planted_30_percent_slowdown_of_the_drift_report(
    drift_frames: tuple[pd.DataFrame, pd.DataFrame],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Real timings of the report recorded as the benchmark records them, the second run planted 30 % slower.

    The two are timed in turns (best of several each), so a machine busy with other work slows both alike.
    """
    monkeypatch.setenv("TAXI_BENCH_RECORDS", str(tmp_path))
    monkeypatch.setattr(bench_drift, "REPEATS", 1)
    reference, current = drift_frames
    honest, planted = bench_drift.compute_drift_report, {"on": False}

    def maybe_slowed(*args, **kwargs):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        report = honest(*args, **kwargs)
        if planted["on"]:
            time.sleep(0.3 * (time.perf_counter() - started))
        return report

    monkeypatch.setattr(bench_drift, "compute_drift_report", maybe_slowed)
    timings: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(9):
        for on in (False, True):
            planted["on"] = on
            timings[on].append(bench_drift.our_seconds(reference, current))
    size = len(current)
    for on in (False, True):
        benchutil.record("drift", bench_drift.drift_figures({size: min(timings[on])}, "skip"))
    assert bench_check.main(["drift", "--compare-only"]) == 1
    printed = capsys.readouterr()
    assert f"report at {size:,} rows" in printed.out
    assert "WORSE" in printed.out
    assert "REGRESSED: drift" in printed.err
