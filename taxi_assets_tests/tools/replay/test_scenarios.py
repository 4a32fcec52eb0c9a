"""Each drift scenario, replayed through a real API on real trips, is caught by the check meant for it."""

import json
from pathlib import Path

import dagster as dg
import pandas as pd

from taxi_assets.monitoring.checks import ACCURACY, FEATURE_DRIFT, VALIDATION_FAILURES
from taxi_assets_tests.champions import Trained
from taxi_assets_tests.monitored import champion, judge
from taxi_assets_tests.serving.servers import server
from taxi_assets_tests.serving.support import HEADERS
from taxi_assets_tests.tools.replay.support import ROWS
from taxi_tools.replay.client import ReplayConfig, run_replay
from taxi_tools.replay.scenarios import NEW_CATEGORY_CODES, apply

ERROR, WARN = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN


def replay_and_judge(
    scenario: str, trips: pd.DataFrame, trained: Trained, home: Path
) -> tuple[dict[str, dg.AssetCheckEvaluation], dict[str, object]]:
    """Serve the champion, replay the scenario with true fares, stop the API (flushing its log), judge the day."""
    champion(home, trained)
    database = {"TAXI_DATABASE_URL": f"sqlite:///{home / 'platform.db'}"}
    with server(home, extra_env=database) as base:
        summary = run_replay(
            apply(scenario, trips, seed=11), ReplayConfig(base, HEADERS["X-API-Key"], rate=3_000, compression=1e6)
        )
    assert summary.transport_errors == 0
    assert summary.feedback_failed == 0
    return judge(home, min_rows=200, min_labelled_rows=500)


def failed(checks: dict[str, dg.AssetCheckEvaluation]) -> dict[str, dg.AssetCheckSeverity]:
    return {name: check.severity for name, check in checks.items() if not check.passed}


def drifted(checks: dict[str, dg.AssetCheckEvaluation]) -> list[str]:
    return list(checks[FEATURE_DRIFT].metadata["drifted_features"].value)  # type: ignore[arg-type]


def test_real_traffic_of_the_next_month_raises_nothing(
    february: pd.DataFrame, trained: Trained, tmp_path: Path
) -> None:
    checks, metadata = replay_and_judge("none", february, trained, tmp_path)
    assert failed(checks) == {}
    assert metadata["labelled_rows"] == ROWS


def test_gradual_drift_fails_feature_drift(february: pd.DataFrame, trained: Trained, tmp_path: Path) -> None:
    checks, _ = replay_and_judge("gradual", february, trained, tmp_path)
    assert failed(checks).get(FEATURE_DRIFT) == ERROR
    assert {"trip_distance", "trip_duration_minutes", "passenger_count"} <= set(drifted(checks))


def test_a_sudden_change_fails_feature_drift(february: pd.DataFrame, trained: Trained, tmp_path: Path) -> None:
    checks, _ = replay_and_judge("sudden", february, trained, tmp_path)
    assert failed(checks).get(FEATURE_DRIFT) == ERROR
    assert {"trip_distance", "trip_duration_minutes", "payment_type"} <= set(drifted(checks))
    assert failed(checks).get(ACCURACY) == ERROR  # the fares did not grow with the trips the model was sent


def test_concept_drift_fails_accuracy_only(february: pd.DataFrame, trained: Trained, tmp_path: Path) -> None:
    checks, metadata = replay_and_judge("concept", february, trained, tmp_path)
    assert failed(checks) == {ACCURACY: ERROR}
    assert float(metadata["bias"]) < -1.0  # inputs unchanged: only the labels show it


def test_a_seasonal_hour_mix_is_a_warning_naming_the_hour(
    february: pd.DataFrame, trained: Trained, tmp_path: Path
) -> None:
    checks, _ = replay_and_judge("seasonal", february, trained, tmp_path)
    assert failed(checks) == {FEATURE_DRIFT: WARN}
    assert "pickup_hour" in drifted(checks)


def test_new_categories_are_named(february: pd.DataFrame, trained: Trained, tmp_path: Path) -> None:
    checks, metadata = replay_and_judge("new_categories", february, trained, tmp_path)
    assert FEATURE_DRIFT in failed(checks)
    assert set(NEW_CATEGORY_CODES) <= set(drifted(checks))
    report = json.loads(Path(str(metadata["path"])).read_text())
    assert list(report["versions"]) == [metadata["champion_version"]]  # one version served the whole day
    for column, code in NEW_CATEGORY_CODES.items():
        assert str(code) in report["versions"][metadata["champion_version"]]["new_categories"][column]


def test_bad_requests_fail_the_validation_check(february: pd.DataFrame, trained: Trained, tmp_path: Path) -> None:
    checks, metadata = replay_and_judge("bad_requests", february, trained, tmp_path)
    assert failed(checks) == {VALIDATION_FAILURES: ERROR}
    rate = checks[VALIDATION_FAILURES].metadata["rate"].value
    assert 0.07 < float(rate) < 0.13  # type: ignore[arg-type]
    assert int(metadata["rejected"]) == round(float(rate) * (int(metadata["rows"]) + int(metadata["rejected"])))  # type: ignore[call-overload]
