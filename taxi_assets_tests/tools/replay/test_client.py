"""The replay client: a seeded sample in pickup order, its summary in words, and its deadline against a real API."""

import math
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pandas as pd

from taxi_assets.features.columns import TARGET
from taxi_assets_tests.champions import Trained
from taxi_assets_tests.monitored import champion
from taxi_assets_tests.serving.servers import server
from taxi_assets_tests.serving.support import HEADERS
from taxi_tools.replay.client import REQUEST_TIMEOUT_SECONDS, ReplayConfig, ReplaySummary, replay_trips, run_replay


def test_a_sample_is_seeded_and_in_pickup_order() -> None:
    month = pd.DataFrame(
        {"pickup_datetime": pd.date_range("2023-01-01", periods=100, freq="min")[::-1], "n": range(100)}
    )
    first, again, other = replay_trips(month, 10, seed=1), replay_trips(month, 10, seed=1), replay_trips(month, 10, 2)
    assert first["n"].tolist() == again["n"].tolist() != other["n"].tolist()
    assert first["pickup_datetime"].is_monotonic_increasing
    assert len(replay_trips(month, None, seed=1)) == len(replay_trips(month, 1_000, seed=1)) == 100


def test_the_summary_says_what_was_sent_skipped_served_and_labelled() -> None:
    summary = ReplaySummary(
        sent=1_200,
        skipped=300,
        status=Counter({200: 1_190, 422: 10}),
        feedback_ok=1_190,
        model_versions=Counter({"2": 1_000, "1": 190}),
        seconds=12.0,
        total_seconds=14.5,
        mean_abs_error=1.234,
    )
    assert summary.rate == 100.0
    assert summary.lines() == [
        "requests sent: 1,200 in 12.0 s (100/s); by status: 200: 1,190, 422: 10; 300 skipped at the deadline",
        "served by: v1: 190, v2: 1,000; transport errors: 0",
        "true fares posted to /feedback: 1,190 (failed: 0); the last 2.5 s after the last request",
        "mean |prediction - true fare|: 1.23 USD",
    ]
    assert math.isnan(ReplaySummary().rate)


def test_a_replay_sends_nothing_after_its_deadline_and_counts_what_it_skipped(
    february: pd.DataFrame, trained: Trained, tmp_path: Path
) -> None:
    champion(tmp_path, trained)
    with server(tmp_path) as base:
        deadline = time.time() + 1.5
        config = ReplayConfig(base, HEADERS["X-API-Key"], rate=200, compression=1e6, deadline=deadline)
        summary = run_replay(february, config)
        late = run_replay(february.head(50), replace(config, deadline=time.time() - 1))
    # at most 1.5 s of trips at 200/s went out (fewer when the API is slow), each answered and labelled; the rest
    # are counted
    assert 0 < summary.sent <= 320, summary.lines()
    assert summary.sent + summary.skipped == len(february)
    assert summary.status == {200: summary.sent}
    assert summary.feedback_ok == summary.sent
    assert summary.finished_requests < deadline + REQUEST_TIMEOUT_SECONDS
    assert f"{summary.skipped:,} skipped at the deadline" in summary.lines()[0]
    assert (late.sent, late.skipped, late.feedback_ok) == (0, 50, 0)


def test_every_true_fare_that_never_reached_the_api_is_reported_with_its_reason(
    february: pd.DataFrame, trained: Trained, tmp_path: Path
) -> None:
    trips = february.head(120).copy()
    trips.loc[trips.index[:7], "trip_distance"] = 500.0  # refused at /predict: no request id to send a fare for
    trips.loc[trips.index[10:15], TARGET] = 900.0  # priced, but a fare outside the rule training kept rows by
    champion(tmp_path, trained)
    with server(tmp_path) as base:
        summary = run_replay(trips, ReplayConfig(base, HEADERS["X-API-Key"], rate=200, compression=1e6))
    assert summary.not_posted == {"no prediction: 422 on trip_distance": 7, "feedback: 422 on actual_fare": 5}
    assert summary.feedback_ok + sum(summary.not_posted.values()) == len(trips)
    assert "true fares not posted: 7 (no prediction: 422 on trip_distance)" in summary.lines()
