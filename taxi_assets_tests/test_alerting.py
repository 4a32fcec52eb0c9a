"""Alerts reach a real webhook receiver on 127.0.0.1 and a real SMTP server, and every one is in the history."""

import json
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Sink

from taxi_assets.alerting import Alert, Alerter, Kind, Severity, SmtpSettings

ALERT = Alert(
    Severity.CRITICAL,
    Kind.CHECK_FAILED,
    "green",
    "taxi-fare-green: drift_report check accuracy failed",
    {"rmse": 6.03, "threshold": 4.29, "labelled_rows": 2100},
)


class Webhook:
    """A local HTTP server that records what is posted to it and answers with a chosen status."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[dict[str, object]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Mailbox(Sink):
    """An aiosmtpd handler keeping every message it is sent."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.messages.append(envelope.content)  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    receiver = Webhook()
    yield receiver
    receiver.close()


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = closed_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_alert_goes_to_the_webhook_the_mailbox_and_the_history(
    tmp_path: Path, webhook: Webhook, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    smtp = SmtpSettings("127.0.0.1", port, "platform@example.org", ("oncall@example.org", "ml@example.org"))
    alerter = Alerter(f"sqlite:///{tmp_path / 'platform.db'}", webhook.url, smtp)

    delivery = alerter.send(ALERT)

    assert delivery == {"log": "sent", "webhook": "sent", "email": "sent"}
    (posted,) = webhook.bodies
    assert str(posted["text"]).startswith("[CRITICAL] taxi-fare-green: drift_report check accuracy failed")
    assert "rmse: 6.03" in str(posted["text"])
    assert (posted["severity"], posted["kind"], posted["service"]) == ("CRITICAL", "check_failed", "green")
    (raw,) = box.messages
    email = message_from_bytes(raw, policy=policy.default)
    assert str(email["Subject"]).strip() == "[taxi-fare CRITICAL] taxi-fare-green: drift_report check accuracy failed"
    assert email["To"] == "oncall@example.org, ml@example.org"
    assert "threshold: 4.29" in email.get_body().get_content()  # type: ignore[union-attr]
    (row,) = alerter.history("green")
    assert (row["severity"], row["kind"], row["title"]) == ("CRITICAL", "check_failed", ALERT.title)
    assert row["details"] == ALERT.details
    assert row["delivery"] == delivery


def test_a_failing_sink_is_recorded_and_does_not_stop_the_others(tmp_path: Path, mailbox: tuple[Mailbox, int]) -> None:
    refusing = Webhook(status=500)
    box, port = mailbox
    try:
        alerter = Alerter(
            f"sqlite:///{tmp_path / 'platform.db'}",
            refusing.url,
            SmtpSettings("127.0.0.1", port, "platform@example.org", ("oncall@example.org",)),
        )
        delivery = alerter.send(ALERT)
    finally:
        refusing.close()
    assert delivery["webhook"].startswith("failed: HTTPError: 500")
    assert delivery["email"] == "sent"
    assert len(box.messages) == 1

    unreachable = Alerter(f"sqlite:///{tmp_path / 'platform.db'}", f"http://127.0.0.1:{closed_port()}/hook")
    assert unreachable.send(ALERT)["webhook"].startswith("failed: ConnectionError")
    assert [row["delivery"]["webhook"][:14] for row in unreachable.history()] == ["failed: HTTPEr", "failed: Connec"]


def test_without_sinks_configured_an_alert_is_logged_and_kept(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    alerter = Alerter(f"sqlite:///{tmp_path / 'platform.db'}")
    info = Alert(Severity.INFO, Kind.PROMOTED, "green", "taxi-fare-green: challenger v3 promoted", {"rmse": 4.4})
    with caplog.at_level("INFO", logger="taxi.alerts"):
        assert alerter.send(info) == {"log": "sent"}
        alerter.send(ALERT)
    assert [record.levelname for record in caplog.records] == ["INFO", "ERROR"]
    assert [row["severity"] for row in alerter.history()] == ["INFO", "CRITICAL"]
    assert alerter.history("yellow") == []
