"""The platform database as the dashboard reads it: each table newest first, health by bucket, nothing created."""

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from taxi_assets_tests.support import PROJECT_ROOT
from taxi_dashboard import tables

sys.path.insert(0, str(PROJECT_ROOT / "scripts"))
import bench_dashboard  # the same filler make bench-dashboard uses: rows written through the platform's stores


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    home = tmp_path_factory.mktemp("tables")
    bench_dashboard.fill_tables(home, predictions=600, days=1, newest="2026-03-02-10:00", seed=0)
    return f"sqlite:///{home / 'platform.db'}"


def test_a_database_not_there_is_read_as_empty_and_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    assert tables.incidents(f"sqlite:///{missing}", "green").empty
    assert not missing.exists()


def test_incidents_alerts_and_decisions_come_back_with_their_json_parsed(url: str) -> None:
    (incident,) = tables.records(tables.incidents(url, "green"))
    assert (incident["check_name"], incident["first_window"], incident["resolved_at"]) == (
        "accuracy",
        "2026-03-02-10:00",
        None,
    )
    alerts = tables.alerts(url, "green")
    assert alerts["title"].tolist()[::-1] == [
        "taxi-fare-green v1: accuracy failed",
        "retraining green after accuracy failed",
    ]
    assert alerts["details"].map(type).eq(dict).all()
    decisions = tables.decisions(url, "green")
    assert tables.decision_that_made(decisions, "1")["reason"] == "first champion"
    assert tables.decision_that_made(decisions, "2") is None
    assert tables.alerts(url, "yellow").empty


def test_service_health_counts_every_request_in_its_bucket(url: str) -> None:
    health = tables.service_health(url, "green", datetime.now(UTC) - timedelta(days=2), bucket_minutes=60)
    assert int(health["requests"].sum()) == 600
    assert int(health["rejected"].sum()) == 0
    assert (health["p50_ms"] <= health["p99_ms"]).all()
    assert health["bucket"].is_monotonic_increasing


def test_newest_picks_the_first_matching_row_of_a_newest_first_frame() -> None:
    frame = pd.DataFrame({"kind": ["a", "b", "a"], "n": [3, 2, 1]})
    assert tables.newest(frame, "kind", "a") == {"kind": "a", "n": 3}
    assert tables.newest(frame, "kind", "c") is None
    assert tables.newest(frame.head(0), "kind", "a") is None
