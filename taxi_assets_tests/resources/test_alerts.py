"""Alerts as a resource: the history always, email only with a server and recipients, the folder made for SQLite."""

from pathlib import Path

import sqlalchemy as sa

from taxi_assets.alerting import Kind, Severity
from taxi_assets.platform_db.records import ALERT_HISTORY
from taxi_assets.resources import AlertsResource


def test_an_alert_is_kept_in_the_history_of_a_database_in_a_new_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'platform.db'}"
    AlertsResource(database_url=url).send(Severity.WARNING, Kind.RETRAIN_STARTED, "green", "retraining", {"run": 1})
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        (row,) = connection.execute(sa.select(ALERT_HISTORY)).mappings()
    engine.dispose()
    assert (row["severity"], row["kind"], row["service"], row["title"]) == (
        Severity.WARNING.value,
        Kind.RETRAIN_STARTED.value,
        "green",
        "retraining",
    )


def test_email_is_configured_only_with_a_server_and_recipients(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'platform.db'}"
    assert AlertsResource(database_url=url, smtp_host="mail").targets() == []
    assert AlertsResource(database_url=url, email_to=["ops@example.org"]).targets() == []
    resource = AlertsResource(database_url=url, smtp_host="mail", smtp_port=587, email_to=["ops@example.org"],
                              smtp_starttls=True)  # fmt: skip
    smtp = resource.smtp()
    assert smtp is not None
    assert (smtp.host, smtp.port, smtp.recipients, smtp.starttls) == ("mail", 587, ("ops@example.org",), True)
    (target,) = resource.alerter().targets
    assert target.startswith("mailto://mail:587/?")
    assert "mode=starttls" in target


def test_every_url_and_the_older_webhook_are_targets(tmp_path: Path) -> None:
    resource = AlertsResource(
        database_url=f"sqlite:///{tmp_path / 'platform.db'}",
        urls=["slack://a/b/c", "json://127.0.0.1:9/x"],
        webhook_url="http://127.0.0.1:9/hook",
        retries=4,
    )
    alerter = resource.alerter()
    assert alerter.targets == ("slack://a/b/c", "json://127.0.0.1:9/x", "json://127.0.0.1:9/hook?%3Amessage=text")
    assert alerter.retries == 4
