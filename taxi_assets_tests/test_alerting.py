"""Alerts reach real receivers through apprise, each target's outcome is in the history, a failure is retried."""

import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from taxi_assets.alerting import Alert, Alerter, Kind, Severity, SmtpSettings, alert_targets, webhook_target
from taxi_assets_tests.alert_receivers import Mailbox, Webhook, closed_port, running_mailbox

ALERT = Alert(
    Severity.CRITICAL,
    Kind.CHECK_FAILED,
    "green",
    "taxi-fare-green: drift_report check accuracy failed",
    {"rmse": 6.03, "threshold": 4.29, "labelled_rows": 2100},
)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    receiver = Webhook()
    yield receiver
    receiver.close()


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    with running_mailbox() as running:
        yield running


def test_one_list_of_urls_reaches_a_webhook_and_a_mailbox_and_the_history_names_each(
    tmp_path: Path, webhook: Webhook, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    smtp = SmtpSettings("127.0.0.1", port, "platform@example.org", ("oncall@example.org", "ml@example.org"))
    alerter = Alerter(f"sqlite:///{tmp_path / 'platform.db'}", [webhook.target, smtp.url()], wait_seconds=0.05)

    delivery = alerter.send(ALERT)

    port_of_webhook = webhook.url.split(":")[2].split("/")[0]
    assert delivery == {
        "log": "sent",
        f"json://127.0.0.1:{port_of_webhook}/hooks/alerts": "sent",
        f"mailto://127.0.0.1:{port}": "sent",
    }
    (posted,) = webhook.bodies
    assert posted["title"] == "[taxi-fare CRITICAL] taxi-fare-green: drift_report check accuracy failed"
    assert "rmse: 6.03" in str(posted["message"])
    assert posted["type"] == "failure"
    emails = [message_from_bytes(raw, policy=policy.default) for raw in box.messages]  # one per recipient
    assert sorted(str(email["To"]) for email in emails) == ["ml@example.org", "oncall@example.org"]
    for email in emails:
        subject = "[taxi-fare CRITICAL] taxi-fare-green: drift_report check accuracy failed"
        assert str(email["Subject"]).strip() == subject
        assert "threshold: 4.29" in email.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    (row,) = alerter.history("green")
    assert (row["severity"], row["kind"], row["title"]) == ("CRITICAL", "check_failed", ALERT.title)
    assert row["details"] == ALERT.details
    assert row["delivery"] == delivery


def test_a_failed_delivery_is_tried_again_and_a_target_that_keeps_failing_is_recorded(
    tmp_path: Path, mailbox: tuple[Mailbox, int]
) -> None:
    flaky = Webhook(statuses=(500, 503, 200))
    refusing = Webhook(status=500)
    box, port = mailbox
    email = SmtpSettings("127.0.0.1", port, "platform@example.org", ("oncall@example.org",)).url()
    try:
        alerter = Alerter(
            f"sqlite:///{tmp_path / 'platform.db'}", [flaky.target, refusing.target, email], wait_seconds=0.05
        )
        delivery = alerter.send(ALERT)
    finally:
        flaky.close()
        refusing.close()
    outcomes = list(delivery.values())
    assert outcomes[1] == "sent"
    assert len(flaky.bodies) == 3  # two failures, then delivered on the third attempt
    assert outcomes[2].startswith("failed after 3 attempts:")
    assert "500" in outcomes[2]
    assert len(refusing.bodies) == 3
    assert outcomes[3] == "sent"
    assert len(box.messages) == 1  # one failing target does not stop the others

    unreachable = Alerter(
        f"sqlite:///{tmp_path / 'platform.db'}", [f"json://127.0.0.1:{closed_port()}/hook"], wait_seconds=0.05
    )
    (outcome,) = [value for key, value in unreachable.send(ALERT).items() if key != "log"]
    assert outcome.startswith("failed after 3 attempts:")
    assert [list(row["delivery"].values())[1][:6] for row in unreachable.history()] == ["sent", "failed"]


def test_without_targets_an_alert_is_logged_and_kept(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    alerter = Alerter(f"sqlite:///{tmp_path / 'platform.db'}")
    info = Alert(Severity.INFO, Kind.PROMOTED, "green", "taxi-fare-green: challenger v3 promoted", {"rmse": 4.4})
    with caplog.at_level("INFO", logger="taxi.alerts"):
        assert alerter.send(info) == {"log": "sent"}
        alerter.send(ALERT)
    assert [record.levelname for record in caplog.records] == ["INFO", "ERROR"]
    assert [row["severity"] for row in alerter.history()] == ["INFO", "CRITICAL"]
    assert alerter.history("yellow") == []


def test_a_url_apprise_does_not_know_is_recorded_not_raised(tmp_path: Path) -> None:
    alerter = Alerter(f"sqlite:///{tmp_path / 'platform.db'}", ["nosuchservice://example"])
    assert alerter.send(ALERT)["nosuchservice://example"] == "failed: not a URL apprise knows"


def test_the_older_settings_become_apprise_urls(tmp_path: Path, webhook: Webhook) -> None:
    # a Slack-compatible webhook gets the message under Slack's "text" key
    alerter = Alerter(f"sqlite:///{tmp_path / 'platform.db'}", [webhook_target(webhook.url)])
    alerter.send(ALERT)
    (posted,) = webhook.bodies
    assert str(posted["text"]).startswith("[CRITICAL] taxi-fare-green: drift_report check accuracy failed")
    slack = "https://hooks.slack.com/services/T000/B000/XXXX"
    assert webhook_target(slack) == slack
    env = {
        "TAXI_ALERT_URLS": "slack://a/b/c  json://hooks.example/x",
        "TAXI_ALERT_WEBHOOK_URL": "https://example.org/hook?token=1",
        "TAXI_ALERT_SMTP_HOST": "mail.example.org",
        "TAXI_ALERT_SMTP_PORT": "587",
        "TAXI_ALERT_SMTP_USER": "ops",
        "TAXI_ALERT_SMTP_PASSWORD": "p@ss word",
        "TAXI_ALERT_SMTP_STARTTLS": "1",
        "TAXI_ALERT_EMAIL_TO": "a@example.org, b@example.org",
    }
    urls = alert_targets(env)
    assert urls[:3] == ["slack://a/b/c", "json://hooks.example/x", "jsons://example.org/hook?token=1&%3Amessage=text"]
    assert urls[3].startswith("mailto://ops:p%40ss%20word@mail.example.org:587/?")
    assert "mode=starttls" in urls[3]
    assert "to=a%40example.org%2Cb%40example.org" in urls[3]
    assert alert_targets({"TAXI_ALERT_SMTP_HOST": "mail"}) == []  # no recipients: no email


def test_a_slow_target_is_bounded_by_its_retries(tmp_path: Path) -> None:
    slow = Webhook(status=500, delay=0.2)
    try:
        started = time.monotonic()
        outcome = Alerter(f"sqlite:///{tmp_path / 'p.db'}", [slow.target], retries=1, wait_seconds=0.05).send(ALERT)
    finally:
        slow.close()
    assert len(slow.bodies) == 2
    assert time.monotonic() - started < 5
    assert list(outcome.values())[1].startswith("failed after 2 attempts")
