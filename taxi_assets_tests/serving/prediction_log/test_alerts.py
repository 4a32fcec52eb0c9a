"""The prediction log writer's alerts, recorded in a real platform database's alert history."""

from pathlib import Path

from taxi_assets.alerting import Alerter
from taxi_assets.platform_db.schema import ensure_schema
from taxi_serving.prediction_log.alerts import SinkAlerts
from taxi_serving.prediction_log.store import LogStore


def history(url: str, kind: str) -> list[dict[str, object]]:
    return [alert for alert in Alerter(url).history() if alert["kind"] == kind]


def test_quarantined_records_are_one_alert_with_the_count_of_each_reason(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'platform.db'}"
    LogStore(url).ensure_schema()
    alerts = SinkAlerts(url, "green")
    alerts.send_due()
    assert history(url, "log_quarantined") == []
    for kind in ("IntegrityError", "IntegrityError", "an unreadable journal record"):
        alerts.quarantined(kind)
    alerts.send_due()
    alerts.quarantined("IntegrityError")
    alerts.send_due()  # within the minute: kept for the next alert
    (alert,) = history(url, "log_quarantined")
    assert alert["service"] == "green"
    assert alert["details"]["reasons"] == {"IntegrityError": 2, "an unreadable journal record": 1}
    assert alert["title"].startswith("3 prediction log record(s)")


def test_a_database_refusing_the_apis_rows_alerts_once_per_problem(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'platform.db'}"
    ensure_schema(LogStore(url).engine)
    alerts = SinkAlerts(url, None)
    alerts.refusing("InsufficientPrivilege: permission denied for table prediction_log")
    alerts.send_due()
    alerts.send_due()  # the same problem: not again before the hour
    alerts.refusing("ReadOnlySqlTransaction: cannot execute INSERT in a read-only transaction")
    alerts.send_due()  # another problem: at once
    alerts.refusing(None)
    alerts.send_due()
    found = history(url, "log_store_refusing")
    assert [alert["details"]["problem"].split(":")[0] for alert in found] == [
        "InsufficientPrivilege",
        "ReadOnlySqlTransaction",
    ]
    assert {alert["severity"] for alert in found} == {"CRITICAL"}
    assert {alert["service"] for alert in found} == {"unknown"}


def test_an_alert_the_database_cannot_take_is_tried_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing' / 'folder' / 'platform.db'}"
    alerts = SinkAlerts(url, "green")
    alerts.refusing("InsufficientPrivilege: permission denied")
    alerts.send_due()  # no database there: nothing recorded, nothing raised
    LogStore(url).ensure_schema()
    alerts.send_due()
    assert len(history(url, "log_store_refusing")) == 1
