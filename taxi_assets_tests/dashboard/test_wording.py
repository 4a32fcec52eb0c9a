"""The sentences of the dashboard, against the numbers they state."""

import math

import pandas as pd
import pytest

from taxi_dashboard import wording
from taxi_dashboard.settings import settings_from_env


@pytest.mark.parametrize(
    ("minutes", "said"), [(1, "1 minute"), (15, "15 minutes"), (60, "1 hour"), (120, "2 hours"), (1440, "1 day")]
)
def test_a_window_length_in_words(minutes: int, said: str) -> None:
    start = pd.Timestamp("2026-11-29 12:00", tz="UTC")
    assert wording.duration(start, start + pd.Timedelta(minutes=minutes)) == said


def test_dollars_put_the_sign_before_the_symbol() -> None:
    assert [wording.dollars(v) for v in (3.771, -3.871, 0.0, 1234.5, math.nan)] == [
        "$3.77",
        "-$3.87",
        "$0.00",
        "$1,234.50",
        "n/a",
    ]


def test_bias_says_which_way_and_how_much() -> None:
    assert wording.bias_sentence(-2.431) == "Estimates are $2.43 below the true fare on average."
    assert wording.bias_sentence(0.5) == "Estimates are $0.50 above the true fare on average."
    assert wording.bias_sentence(math.nan).startswith("No matured true fares")


def test_the_headline_without_a_judged_window_says_so() -> None:
    assert wording.headline(None).startswith("No window has been judged yet")


def test_the_headline_gives_the_holdout_error_as_normal_only_for_mae() -> None:
    row = pd.Series(
        {
            "mae": 3.771,
            "baseline": 2.5,
            "statistic": "mae",
            "start": pd.Timestamp("2026-11-29 12:00", tz="UTC"),
            "end": pd.Timestamp("2026-11-29 13:00", tz="UTC"),
        }
    )
    said = wording.headline(row)
    assert said == (
        "Fare estimates are off by $3.77 on average in the window of 1 hour that ended Nov 29, 13:00 UTC "
        "(normally $2.50)."
    )
    # judged on RMSE, the holdout value is not an average error in dollars: no "normally"
    assert "normally" not in wording.headline(row.mask(row.index == "statistic", "rmse"))


def test_rules_say_what_each_saw_against_what_it_applied() -> None:
    rules = {"latency_p99": {"passed": False, "value": 12.345678, "threshold": 10.0}, "holdout_rows": 400}
    assert wording.rules_sentence(rules) == "holdout_rows: 400; latency_p99 FAILED (12.35 against 10)"


def test_named_and_bare_keys() -> None:
    config = settings_from_env({"TAXI_DASHBOARD_KEYS": "alice:s3:cret, plain ,", "TAXI_HOME": "/tmp/h"})
    assert config.keys == {"s3:cret": "alice", "plain": "user 2"}
    assert config.database_url == "sqlite:////tmp/h/platform.db"
    assert config.dagster_run_url("abc") == "http://127.0.0.1:3000/runs/abc"
    assert config.mlflow_version_url("taxi-fare-green", "2") is None


def test_a_live_decision_says_its_test_and_leaves_the_segments_to_the_table() -> None:
    live = {"stage": "shadow", "decision": "promote", "labels": 1433, "mean_difference": 19.99123, "low": 0.0012,
            "high": 39.98, "margin": 0.0, "alpha": 0.05, "statistic": 1.00006}  # fmt: skip
    said = wording.rules_sentence({"live": live, "segments": {"pickup_borough": {"Bronx": {}}}, "plan": {}})
    assert said == (
        "live shadow test: promote after 1,433 true fares, mean squared-error difference 19.99 USD² in "
        "[0.0012, 39.98] at 95% (margin 0, statistic 1)"
    )
    started = {"raised_at": "2026-03-01T10:00:00+00:00", "title": "accuracy failed"}
    decision = {"decided_at": "2026-03-01T10:05:00+00:00", "action": "shadow", "reason": "passed the offline rules"}
    assert "it sent the challenger into shadow, to be promoted only on live evidence" in wording.retraining_sentence(
        started, decision
    )
