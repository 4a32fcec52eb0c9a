"""The writer's alerts: in a real alert history, and through apprise to a real receiver from a thread of their own."""

import time
from pathlib import Path

from taxi_assets.alerting import Alerter
from taxi_assets.platform_db.schema import ensure_schema
from taxi_assets_tests.alert_receivers import Webhook
from taxi_serving.prediction_log.alerts import SinkAlerts
from taxi_serving.prediction_log.store import LogStore


def history(url: str, kind: str) -> list[dict[str, object]]:
    return [alert for alert in Alerter(url).history() if alert["kind"] == kind]


def due(alerts: SinkAlerts) -> None:
    """One round of the writer: start what is due, and (for the test) wait for its delivery."""
    alerts.send_due()
    alerts.wait()


def test_quarantined_records_are_one_alert_with_the_count_of_each_reason(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'platform.db'}"
    LogStore(url).ensure_schema()
    alerts = SinkAlerts(url, "green")
    due(alerts)
    assert history(url, "log_quarantined") == []
    for kind in ("IntegrityError", "IntegrityError", "an unreadable journal record"):
        alerts.quarantined(kind)
    due(alerts)
    alerts.quarantined("IntegrityError")
    due(alerts)  # within the minute: kept for the next alert
    (alert,) = history(url, "log_quarantined")
    assert alert["service"] == "green"
    assert alert["details"]["reasons"] == {"IntegrityError": 2, "an unreadable journal record": 1}
    assert alert["title"].startswith("3 prediction log record(s)")


def test_a_database_refusing_the_apis_rows_alerts_once_per_problem(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'platform.db'}"
    ensure_schema(LogStore(url).engine)
    alerts = SinkAlerts(url, None)
    alerts.refusing("InsufficientPrivilege: permission denied for table prediction_log")
    due(alerts)
    due(alerts)  # the same problem: not again before the hour
    alerts.refusing("ReadOnlySqlTransaction: cannot execute INSERT in a read-only transaction")
    due(alerts)  # another problem: at once
    alerts.refusing(None)
    due(alerts)
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
    due(alerts)  # no database there: nothing recorded, nothing raised
    LogStore(url).ensure_schema()
    due(alerts)
    assert len(history(url, "log_store_refusing")) == 1


def test_the_apis_alerts_reach_the_platforms_targets_without_holding_up_the_writer(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'platform.db'}"
    LogStore(url).ensure_schema()
    slow = Webhook(statuses=(503, 200), delay=0.5)
    alerts = SinkAlerts(url, "green", [slow.target])
    try:
        alerts.refusing("InsufficientPrivilege: permission denied for table prediction_log")
        started = time.monotonic()
        alerts.send_due()
        assert time.monotonic() - started < 0.3  # the delivery runs beside the writer, not in its round
        alerts.wait()
    finally:
        alerts.close()
        slow.close()
    assert len(slow.bodies) == 2  # refused once, delivered on the retry
    assert "InsufficientPrivilege" in str(slow.bodies[-1]["message"])
    (alert,) = history(url, "log_store_refusing")
    assert list(alert["delivery"].values()) == ["sent", "sent"]
