"""Champion against challenger on live traffic: shadow pairs read from a prediction log the API's sink wrote."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from taxi_assets.features.columns import FEATURES
from taxi_assets.registry.live_evidence import (
    ab_rows_query,
    evaluate_ab,
    evaluate_shadow,
    labels_since,
    paired_comparison,
    read_frame,
    read_shadow_pairs,
    shadow_pairs_query,
    squared_error_differences,
    stage_traffic,
    two_sample_comparison,
)
from taxi_assets.registry.sequential import CONTINUE, PROMOTE, REJECT, SequentialRule, first_decision
from taxi_assets_tests.champions import synthetic_trips
from taxi_serving.prediction_log.sink import PredictionLogSink
from taxi_serving.service import log_row


def log_shadowed(url: str, folder: Path, trips: int, challenger_noise: float, seed: int) -> np.ndarray:
    """``trips`` requests answered by champion v1 and scored in shadow by v2, as the API logs them.

    True fares arrive for all but the last ten. Returns the true fares.
    """
    rows = synthetic_trips(trips, seed=seed)
    rng = np.random.default_rng(seed)
    actual = rows["fare_amount"].to_numpy()
    champion = actual + rng.normal(0, 3.0, trips)
    challenger = actual + rng.normal(0, challenger_noise, trips)
    sink = PredictionLogSink(url, folder, flush_seconds=0.05, service="green")
    sink.start()
    for index, record in enumerate(rows[list(FEATURES)].to_dict("records")):
        features = {str(k): v for k, v in record.items()}
        common = {"endpoint": "/predict", "status": "ok", "status_code": 200, "features": features}
        sink.submit(
            log_row(
                request_id=f"t{index}", arm="champion", model_version="1", prediction=float(champion[index]), **common
            )
        )
        sink.submit(
            log_row(
                request_id=f"t{index}-shadow",
                arm="shadow",
                model_version="2",
                prediction=float(challenger[index]),
                **common,
            )
        )
    # a third model scored in shadow on one trip: not a pair of v2
    sink.submit(log_row(request_id="t0-other", arm="shadow", model_version="3", prediction=1.0, **common))
    assert sink.flush()
    for index in range(trips - 10):
        assert sink.record_feedback(f"t{index}", float(actual[index]))[0] == "ok"
    sink.stop()
    return actual


def test_the_pairs_are_the_labelled_trips_both_models_scored(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'platform.db'}"
    actual = log_shadowed(url, tmp_path / "journal", 300, challenger_noise=1.0, seed=0)
    pairs = read_shadow_pairs(url, "green", "2", datetime.now(UTC) - timedelta(hours=1))
    assert len(pairs) == 290  # the last ten fares have not arrived
    assert set(pairs["champion_version"]) == {"1"}
    assert set(pairs["challenger_version"]) == {"2"}
    assert pairs["actual_fare"].to_numpy() == pytest.approx(actual[:290])
    assert read_shadow_pairs(url, "yellow", "2", datetime.now(UTC) - timedelta(hours=1)).empty
    assert read_shadow_pairs(url, "green", "3", datetime.now(UTC) - timedelta(hours=1)).empty
    differences = squared_error_differences(pairs)
    expected = (pairs["champion_prediction"] - pairs["actual_fare"]) ** 2 - (
        pairs["challenger_prediction"] - pairs["actual_fare"]
    ) ** 2
    assert differences == pytest.approx(expected.to_numpy())


def test_a_closer_challenger_is_promoted_on_the_pairs_and_each_segment_is_compared(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'platform.db'}"
    log_shadowed(url, tmp_path / "journal", 600, challenger_noise=1.0, seed=1)
    pairs = read_shadow_pairs(url, "green", "2", datetime.now(UTC) - timedelta(hours=1))
    evaluation = evaluate_shadow(pairs, SequentialRule(alpha=0.05, min_labels=200))
    assert evaluation.verdict.decision == PROMOTE
    # the first label at which the lower bound crossed the margin, reading the pairs in the order fares arrived
    assert 200 <= evaluation.verdict.labels < 590
    assert evaluation.verdict == first_decision(squared_error_differences(pairs), SequentialRule(min_labels=200))
    assert evaluation.verdict.low > 0
    assert (evaluation.champion_labels, evaluation.overall.labels) == (590, 590)
    assert evaluation.champion_rmse == pytest.approx(3.0, abs=0.3)
    assert evaluation.challenger_rmse == pytest.approx(1.0, abs=0.15)
    boroughs = evaluation.by_segment["pickup_borough"]
    assert sum(comparison.labels for comparison in boroughs.values()) == 590
    assert all(comparison.low < comparison.mean_difference < comparison.high for comparison in boroughs.values())
    # too few labels yet: no decision, whatever the mean says
    early = evaluate_shadow(pairs.head(100), SequentialRule(alpha=0.05, min_labels=200))
    assert early.verdict.decision == CONTINUE


def test_comparisons_known_answers() -> None:
    paired = paired_comparison(np.array([1.0, 2.0, 3.0, 4.0]))
    half = 1.959964 * np.std([1.0, 2.0, 3.0, 4.0], ddof=1) / 2
    assert (paired.labels, paired.mean_difference, paired.low, paired.high) == pytest.approx(
        (4, 2.5, 2.5 - half, 2.5 + half)
    )
    welch = two_sample_comparison(np.array([2.0, 4.0, 6.0]), np.array([1.0, 1.0, 1.0, 1.0]))
    assert welch.mean_difference == pytest.approx(3.0)
    assert welch.high - welch.mean_difference == pytest.approx(1.959964 * np.sqrt(4.0 / 3))
    assert np.isnan(paired_comparison(np.array([1.0])).low)
    assert np.isnan(two_sample_comparison(np.array([1.0]), np.array([1.0, 2.0])).mean_difference)


def log_ab(url: str, folder: Path, trips: int, share: float, challenger_noise: float, seed: int) -> None:
    """``trips`` requests split between champion v1 and challenger v2 by client, as the API logs them, all labelled."""
    rows = synthetic_trips(trips, seed=seed)
    rng = np.random.default_rng(seed)
    actual = rows["fare_amount"].to_numpy()
    arms = np.where(rng.random(trips) < share, "challenger", "champion")
    noise = np.where(arms == "challenger", challenger_noise, 3.0)
    predictions = actual + rng.normal(0, 1, trips) * noise
    sink = PredictionLogSink(url, folder, flush_seconds=0.05, service="green")
    sink.start()
    for index, record in enumerate(rows[list(FEATURES)].to_dict("records")):
        sink.submit(
            log_row(
                request_id=f"ab{index}",
                endpoint="/predict",
                status="ok",
                status_code=200,
                features={str(k): v for k, v in record.items()},
                arm=str(arms[index]),
                model_version="2" if arms[index] == "challenger" else "1",
                prediction=float(predictions[index]),
            )
        )
    assert sink.flush()
    for index in range(trips):
        assert sink.record_feedback(f"ab{index}", float(actual[index]))[0] == "ok"
    sink.stop()


@pytest.mark.parametrize(("noise", "decision"), [(1.0, PROMOTE), (5.0, REJECT)])
def test_ab_arms_are_paired_in_label_order_and_compared_by_welch(
    database_url: str, tmp_path: Path, noise: float, decision: str
) -> None:
    url = database_url
    log_ab(url, tmp_path / "journal", 2_000, share=0.3, challenger_noise=noise, seed=4)
    since = datetime.now(UTC) - timedelta(hours=1)
    rows = read_frame(url, ab_rows_query("green", "1", "2", since))
    assert len(rows) == 2_000
    evaluation = evaluate_ab(rows, SequentialRule(min_labels=100))
    counts = rows["arm"].value_counts()
    assert (evaluation.champion_labels, evaluation.challenger_labels) == (counts["champion"], counts["challenger"])
    assert evaluation.verdict.decision == decision
    assert evaluation.verdict.labels <= counts["challenger"]  # the smaller arm bounds the paired labels
    assert evaluation.challenger_rmse == pytest.approx(noise, rel=0.15)
    assert evaluation.overall.labels == 2_000
    assert (evaluation.overall.mean_difference > 0) == (decision == PROMOTE)
    # a version that was not in the split has no rows
    assert read_frame(url, ab_rows_query("green", "1", "7", since))["arm"].eq("challenger").sum() == 0
    assert labels_since(url, "green", since) == 2_000
    traffic = stage_traffic(url, "green", "1", "2", "challenger", since)
    assert (traffic.champion_requests, traffic.challenger_requests) == (counts["champion"], counts["challenger"])


def test_shadow_pairs_traffic_and_labels_are_counted_per_side(database_url: str, tmp_path: Path) -> None:
    url = database_url
    log_shadowed(url, tmp_path / "journal", 120, challenger_noise=1.0, seed=2)
    since = datetime.now(UTC) - timedelta(hours=1)
    traffic = stage_traffic(url, "green", "1", "2", "shadow", since)
    assert (traffic.champion_requests, traffic.challenger_requests) == (120, 120)
    assert labels_since(url, "green", since) == 110  # the shadow rows carry no fare; ten fares have not arrived
    assert labels_since(url, "green", datetime.now(UTC) + timedelta(minutes=1)) == 0
    # the self-join on the request id, on either database; pinned to the champion that answered
    assert len(read_frame(url, shadow_pairs_query("green", "2", since, champion_version="1"))) == 110
    assert read_frame(url, shadow_pairs_query("green", "2", since, champion_version="9")).empty
