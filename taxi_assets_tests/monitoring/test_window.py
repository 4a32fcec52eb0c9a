"""One window read from the log and judged per model version that served it, against that version's own reference."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from taxi_assets.errors import MissingInputError
from taxi_assets.lake_storage import lake_root
from taxi_assets.model.versions import ModelRegistry, model_name
from taxi_assets.monitoring.accuracy import AccuracyRule
from taxi_assets.monitoring.report import Thresholds
from taxi_assets.monitoring.window import Judging, WindowLog, report_summary, version_reports
from taxi_assets_tests.champions import Trained, tiny_champions
from taxi_assets_tests.monitored import champion, log_traffic

JUDGING = Judging(Thresholds(), AccuracyRule(min_labels=50, min_segment_labels=25), not_counted=())


pytestmark = pytest.mark.slow  # two model versions loaded from MLflow, a prediction log written through the sink


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    return tiny_champions(tmp_path_factory.mktemp("tiny-champions"))


def window_now() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(hours=1), now + timedelta(minutes=1)


def test_each_version_that_served_the_window_is_judged_on_its_own_rows(trained: Trained, tmp_path: Path) -> None:
    first, first_predictions = champion(tmp_path, trained, "a")
    second, second_predictions = champion(tmp_path, trained, "b")
    holdout = trained.holdout
    actual = holdout["fare_amount"].to_numpy()
    log_traffic(tmp_path, holdout.head(300), first_predictions[:300], first, actual[:300], rejected=4)
    log_traffic(tmp_path, holdout.tail(200), second_predictions[-200:], second, actual[-200:], rejected=0)
    log = WindowLog.read(f"sqlite:///{tmp_path / 'platform.db'}", "green", window_now(), lookback_hours=0.0)
    assert (len(log.log.served), log.log.rejected, log.matured) == (500, 4, None)
    assert len(log.rows_of(first)[0]) == 300
    registry = ModelRegistry(f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}")
    reports, headline = version_reports(
        log, second, model_name("green"), registry, JUDGING, lake_root(str(trained.profile_path.parent))
    )
    assert headline == second
    assert {version: report.rows for version, report in reports.items()} == {first: 300, second: 200}
    assert (reports[first].rejected, reports[second].rejected) == (0, 4)  # rejections go with the champion
    assert reports[first].labelled_rows == 300
    summary = report_summary(reports[second])
    assert (summary["rows"], summary["labelled_rows"]) == (200, 200)
    assert set(summary["psi"]) >= {"trip_distance", "trip_duration_minutes"}
    # what drives this version's fares here against at training, on its own trees
    drivers = summary["attribution"]
    assert isinstance(drivers, dict)
    assert drivers["window_rows"] == 100
    assert drivers["reference_rows"] == 100
    assert drivers["window"]["trip_distance"] > 0
    assert drivers["reference"]["passenger_count"] == 0.0  # no tree splits on it
    assert isinstance(drivers["moving_predictions"], list)


def test_a_trailing_accuracy_period_reads_the_labelled_rows_before_the_window(trained: Trained, tmp_path: Path) -> None:
    version, predictions = champion(tmp_path, trained, "a")
    holdout = trained.holdout.head(100)
    log_traffic(tmp_path, holdout, predictions[:100], version, holdout["fare_amount"].to_numpy(), rejected=0)
    log = WindowLog.read(f"sqlite:///{tmp_path / 'platform.db'}", "green", window_now(), lookback_hours=24.0)
    assert log.matured is not None
    assert len(log.matured) == 100
    assert log.metadata()["accuracy_period_hours"] == 24.0
    assert log.observed("green")["labelled_rows_in_lookback"] == 100


def test_a_window_with_no_traffic_and_no_champion_says_to_promote_one_first(tmp_path: Path) -> None:
    log = WindowLog.read(f"sqlite:///{tmp_path / 'platform.db'}", "green", window_now(), lookback_hours=0.0)
    registry = ModelRegistry(f"sqlite:///{tmp_path / 'mlflow.db'}")
    with pytest.raises(MissingInputError, match="has no champion to monitor; train and promote one first"):
        version_reports(log, None, model_name("green"), registry, JUDGING, lake_root(str(tmp_path / "profiles")))
