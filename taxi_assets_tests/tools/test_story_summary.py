"""What the demo prints at its end, on a result with known numbers: one line per step, then the timeline."""

import os

import dagster as dg
import pytest

from taxi_assets.monitoring.checks import ACCURACY, FEATURE_DRIFT
from taxi_tools.replay.client import ReplaySummary
from taxi_tools.story_summary import print_summary
from taxi_tools.story_types import StoryOptions, StoryResult

OPTIONS = StoryOptions(
    service="green",
    training_months=("2022-01", "2022-02"),
    calm_month="2022-03",
    drift_month="2023-01",
    calm_rows=3_000,
    drift_rows=5_000,
    rate=100.0,
    compression=600.0,
)


def evaluation(check: str, passed: bool, **numbers: object) -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey("drift_report"), check_name=check, passed=passed, metadata=numbers
    )


def result() -> StoryResult:
    story = StoryResult(champion_before="1", champion_rmse=3.4461, served_version_after="2", new_months=["2023-02"])
    story.replays = {"2022-03": ReplaySummary(sent=3_000), "2023-01": ReplaySummary(sent=5_000)}
    story.windows = {"2022-03": "2026-11-29-02:30", "2023-01": "2026-11-29-02:31"}
    story.checks = {
        "2022-03": {ACCURACY: evaluation(ACCURACY, True), FEATURE_DRIFT: evaluation(FEATURE_DRIFT, True)},
        "2023-01": {
            ACCURACY: evaluation(
                ACCURACY,
                False,
                statistic="mae",
                value=4.006,
                threshold=1.74,
                holdout_value=1.087,
                labelled_rows=5_000,
            )
        },
    }
    story.decision = {
        "decision": "promote",
        "challenger_version": "2",
        "challenger_rmse": 3.547,
        "champion_rmse": 5.832,
        "holdout_rows": 2_400,
        "holdout": "the most recent labelled traffic (labelled_traffic holdout)",
        "run_step_seconds": [["labelled_traffic", 9.04], ["training_set", 21.5], ["challenger_model", 70.0]],
        "segments_blocked": "none",
    }
    story.card = {
        "version": "2",
        "training": {"months": ["2023-01", "2023-02"]},
        "segments": {"pickup_borough": {"Bronx": {}, "Queens": {}}, "distance_band": {"1-3 mi": {}}},
        "limits": ["too few holdout trips to judge: RatecodeID=3 (12 trips)"],
        "decisions": [{"action": "promote"}],
    }
    story.loads = [0.5, 2.0 * (os.cpu_count() or 1)]
    story.times = {"replayed 2023-01": 100.0, "check_failed": 170.8, "retrain_requested": 176.5, "decided": 318.2}
    story.times["swapped"] = 320.2
    return story


def test_the_summary_says_each_step_with_its_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    print_summary(OPTIONS, result())
    printed = capsys.readouterr().out
    summary = printed.split("== summary\n")[1].split("\n\n")[0].splitlines()
    assert summary == [
        "1. champion v1 trained on green 2022-01, 2022-02: holdout RMSE 3.446",
        "2. replayed 2022-03 in window 2026-11-29-02:30 (3,000 trips, same fares); judged by the schedule: "
        "checks failed: none",
        "3. replayed 2023-01 in window 2026-11-29-02:31 (5,000 trips, after the fare increase): accuracy FAILED, "
        "MAE 4.006 on 5,000 labelled rows vs threshold 1.740 (holdout 1.087)",
        "4. the sensor started retrain_job run none",
        "5. promote v2: RMSE 3.547 vs champion 5.832 on 2,400 rows of the most recent labelled traffic "
        "(labelled_traffic holdout); worse for no segment",
        "6. the API serves v2",
        "7. sensor ingest_new_months ingested 2023-02 as it appeared in the trip source",
        "8. the model card of v2 (model_card.md of its MLflow run): learned from 2023-01, 2023-02, accuracy in 3 "
        "segments, 1 known limit, decisions: promote",
    ]


def test_the_timeline_gives_each_measured_latency(capsys: pytest.CaptureFixture[str]) -> None:
    print_summary(OPTIONS, result())
    timeline = capsys.readouterr().out.split("== timeline (measured)\n")[1].splitlines()
    assert timeline == [
        "last drifted request -> failed accuracy check: 70.8 s (the window closes, the schedule ticks, the run "
        "judges it)",
        "failed check -> retraining run requested: 5.7 s",
        "retraining requested -> promotion decision: 141.7 s (labelled_traffic 9.0 s, training_set 21.5 s, "
        "challenger_model 70.0 s)",
        "promotion -> the API serves the new version: 2.0 s",
        f"the machine: {os.cpu_count()} cores, load average 0.5 at the start and {2.0 * (os.cpu_count() or 1):.1f} "
        "at the end",
    ]


def test_a_step_that_did_not_happen_says_so_instead_of_a_number(capsys: pytest.CaptureFixture[str]) -> None:
    story = result()
    story.times.pop("swapped")
    story.checks["2022-03"][FEATURE_DRIFT] = evaluation(FEATURE_DRIFT, False)
    print_summary(OPTIONS, story)
    printed = capsys.readouterr().out
    assert "checks failed: feature_drift" in printed
    assert "promotion -> the API serves the new version: nan s" in printed


def test_a_challenger_the_segment_gate_refused_is_said_so_and_a_missing_card_is_left_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    story = result()
    story.decision |= {"decision": "reject", "segments_blocked": "pickup_borough=Bronx"}
    story.card = {}
    print_summary(OPTIONS, story)
    printed = capsys.readouterr().out
    assert "(labelled_traffic holdout); worse for pickup_borough=Bronx" in printed
    assert "8. the model card" not in printed


def test_a_busy_machine_is_named_as_why_the_story_took_longer(capsys: pytest.CaptureFixture[str]) -> None:
    story = result()
    story.loads = [0.5, 2.1 * (os.cpu_count() or 1)]
    story.decision.pop("run_step_seconds")
    print_summary(OPTIONS, story)
    timeline = capsys.readouterr().out.split("== timeline (measured)\n")[1].splitlines()
    assert timeline[2] == "retraining requested -> promotion decision: 141.7 s"
    assert timeline[-1].endswith(
        "(other work competed for the cores: every step took what it needed, no step had a deadline)"
    )
