"""The lake's drift reports as the dashboard's frames: one row per window and version, the newest few on demand."""

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from taxi_assets_tests.support import PROJECT_ROOT
from taxi_dashboard.reports import load_reports, window_start

sys.path.insert(0, str(PROJECT_ROOT / "scripts"))
import bench_dashboard  # the same filler make bench-dashboard uses: reports written by the platform's own code


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("reports")
    bench_dashboard.fill_reports(folder, days=1, rows=200, seed=0)
    return folder


def test_a_day_of_hourly_reports_is_a_frame_of_24_windows_oldest_first(home: Path) -> None:
    reports = load_reports(str(home / "lake"), "green")
    rows = reports.champion_rows()
    assert len(rows) == 24
    assert rows["window"].is_monotonic_increasing
    assert set(reports.features["feature"]) >= {"trip_distance", "pickup_borough"}
    assert {"pickup_borough", "payment_type"} <= set(reports.segments["segment"])


def test_the_fare_increase_of_the_last_six_hours_reads_as_degraded(home: Path) -> None:
    rows = load_reports(str(home / "lake"), "green").champion_rows()
    assert rows["degraded"].tail(6).all()
    assert not rows["degraded"].head(6).any()


def test_only_the_newest_windows_are_read_when_asked(home: Path) -> None:
    newest = load_reports(str(home / "lake"), "green", newest=3)
    everything = load_reports(str(home / "lake"), "green")
    assert newest.windows["window"].tolist() == everything.windows["window"].tail(3).tolist()


def test_a_service_without_reports_is_empty(home: Path) -> None:
    assert load_reports(str(home / "lake"), "yellow").empty


def test_a_window_key_is_its_start_in_utc() -> None:
    assert window_start("2026-11-29-12:00") == datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
