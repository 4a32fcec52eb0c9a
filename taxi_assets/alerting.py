"""Alerts: one event (a failed check, a retraining started, a promotion or rejection) sent to every sink.

Every alert goes to the structured log and into the ``alert_history`` table; a Slack-compatible webhook and
SMTP email are added when configured. A sink that fails does not stop the others or the run that raised the
alert: its error is recorded in the history row (``delivery``) and logged.
"""

from __future__ import annotations

import json
import logging
import smtplib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from enum import StrEnum
from typing import Any, Final

import requests
import sqlalchemy as sa

from taxi_assets.platform_db.records import ALERT_HISTORY
from taxi_assets.platform_db.schema import ensure_schema

LOGGER: Final = logging.getLogger("taxi.alerts")
WEBHOOK_TIMEOUT_SECONDS: Final = 5.0
SMTP_TIMEOUT_SECONDS: Final = 10.0


class Severity(StrEnum):
    """How urgent an alert is: INFO (for the record), WARNING (look today), CRITICAL (act now)."""

    INFO = "INFO"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"


LOG_LEVELS: Final = {Severity.INFO: logging.INFO, Severity.WARNING: logging.WARNING, Severity.CRITICAL: logging.ERROR}


class Kind(StrEnum):
    """What happened."""

    CHECK_FAILED = "check_failed"
    CHECK_RESOLVED = "check_resolved"
    RETRAIN_STARTED = "retrain_started"
    # a person asked for a retraining (the dashboard's button)
    RETRAIN_REQUESTED = "retrain_requested"
    RETRAIN_FAILED = "retrain_failed"
    PROMOTED = "promoted"
    REJECTED = "rejected"
    ROLLED_BACK = "rolled_back"
    # a challenger entered or left a rollout stage (shadow, A/B, the guardrail) on live evidence
    ROLLOUT = "rollout"
    LOG_QUARANTINED = "log_quarantined"
    # the prediction log database refuses the API's writes for an operator to fix (a privilege, read-only)
    LOG_STORE_REFUSING = "log_store_refusing"


@dataclass(frozen=True)
class Alert:
    """One alert: severity, kind, the service it concerns, a one-line title and the numbers behind it."""

    severity: Severity
    kind: Kind
    service: str
    title: str
    details: dict[str, Any] = field(default_factory=dict)
    raised_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def text(self) -> str:
        """The alert as one message: ``[SEVERITY] title`` then ``key: value`` lines."""
        lines = [f"[{self.severity}] {self.title}"]
        lines += [f"{key}: {value}" for key, value in self.details.items()]
        return "\n".join(lines)


@dataclass(frozen=True)
class SmtpSettings:
    """Where email alerts go. No authentication and no TLS unless a user and ``starttls`` are given."""

    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    user: str | None = None
    password: str | None = None
    starttls: bool = False


class Alerter:
    """Sends alerts to the log, the history table and the configured webhook and email."""

    def __init__(self, database_url: str, webhook_url: str | None = None, smtp: SmtpSettings | None = None) -> None:
        self.database_url = database_url
        self.webhook_url = webhook_url
        self.smtp = smtp

    def send(self, alert: Alert) -> dict[str, str]:
        """Deliver to every sink; return each sink's outcome ("sent" or the error), as stored in the history."""
        fields = {"alert": alert.kind.value, "severity": alert.severity.value, "service": alert.service}
        LOGGER.log(LOG_LEVELS[alert.severity], "%s", alert.title, extra={"fields": fields | {"details": alert.details}})
        delivery = {"log": "sent"}
        if self.webhook_url:
            delivery["webhook"] = self._deliver(self._post_webhook, alert)
        if self.smtp is not None:
            delivery["email"] = self._deliver(self._send_email, alert)
        self._record(alert, delivery)
        return delivery

    def history(self, service: str | None = None) -> list[dict[str, Any]]:
        """Alerts recorded so far, oldest first (optionally for one service)."""
        engine = sa.create_engine(self.database_url)
        try:
            ensure_schema(engine)
            query = sa.select(ALERT_HISTORY).order_by(ALERT_HISTORY.c.id)
            if service is not None:
                query = query.where(ALERT_HISTORY.c.service == service)
            with engine.connect() as connection:
                rows = [dict(row._mapping) for row in connection.execute(query)]
        finally:
            engine.dispose()
        for row in rows:
            row["details"] = json.loads(row["details"])
            row["delivery"] = json.loads(row["delivery"])
        return rows

    @staticmethod
    def _deliver(sink: Any, alert: Alert) -> str:
        try:
            sink(alert)
        except (requests.RequestException, smtplib.SMTPException, OSError) as exc:
            LOGGER.warning("alert %r not delivered: %s", alert.title, exc)
            return f"failed: {type(exc).__name__}: {exc}"
        return "sent"

    def _post_webhook(self, alert: Alert) -> None:
        # Slack's incoming-webhook shape: "text" is shown; the structured copy is for other receivers
        payload = {
            "text": alert.text(),
            "severity": alert.severity.value,
            "kind": alert.kind.value,
            "service": alert.service,
            "title": alert.title,
            "details": alert.details,
            "raised_at": alert.raised_at.isoformat(),
        }
        response = requests.post(
            str(self.webhook_url), data=json.dumps(payload, default=str), timeout=WEBHOOK_TIMEOUT_SECONDS
        )
        response.raise_for_status()

    def _send_email(self, alert: Alert) -> None:
        assert self.smtp is not None  # only called when configured
        message = EmailMessage()
        message["Subject"] = f"[taxi-fare {alert.severity}] {alert.title}"
        message["From"] = self.smtp.sender
        message["To"] = ", ".join(self.smtp.recipients)
        message.set_content(alert.text())
        with smtplib.SMTP(self.smtp.host, self.smtp.port, timeout=SMTP_TIMEOUT_SECONDS) as client:
            if self.smtp.starttls:
                client.starttls()
            if self.smtp.user:
                client.login(self.smtp.user, self.smtp.password or "")
            client.send_message(message)

    def _record(self, alert: Alert, delivery: dict[str, str]) -> None:
        engine = sa.create_engine(self.database_url)
        try:
            ensure_schema(engine)
            with engine.begin() as connection:
                connection.execute(
                    ALERT_HISTORY.insert().values(
                        raised_at=alert.raised_at,
                        severity=alert.severity.value,
                        kind=alert.kind.value,
                        service=alert.service,
                        title=alert.title,
                        details=json.dumps(alert.details, default=str),
                        delivery=json.dumps(delivery),
                    )
                )
        finally:
            engine.dispose()
