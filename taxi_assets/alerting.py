"""Alerts: one event (a failed check, a retraining started, a promotion or rejection) sent to every target.

Every alert goes to the structured log and into the ``alert_history`` table, and through apprise to each
configured target URL (``TAXI_ALERT_URLS``: Slack, email, a JSON webhook, any of apprise's services), each
tried again on failure (``retry`` and ``wait``, per URL or the defaults here). A target that still fails does not
stop the others or the run that raised the alert: its outcome is recorded per target in the history row
(``delivery``) and logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import apprise
import sqlalchemy as sa

from taxi_assets.platform_db.records import ALERT_HISTORY
from taxi_assets.platform_db.schema import ensure_schema

LOGGER: Final = logging.getLogger("taxi.alerts")
# each target is tried this many more times after a failure, this long apart (a URL's own retry= and wait= win)
DELIVERY_RETRIES: Final = 2
DELIVERY_WAIT_SECONDS: Final = 1.0


class Severity(StrEnum):
    """How urgent an alert is: INFO (for the record), WARNING (look today), CRITICAL (act now)."""

    INFO = "INFO"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"


LOG_LEVELS: Final = {Severity.INFO: logging.INFO, Severity.WARNING: logging.WARNING, Severity.CRITICAL: logging.ERROR}
NOTIFY_TYPES: Final = {
    Severity.INFO: apprise.NotifyType.INFO,
    Severity.WARNING: apprise.NotifyType.WARNING,
    Severity.CRITICAL: apprise.NotifyType.FAILURE,
}


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
    """Where email alerts go (the older settings; an apprise ``mailto://`` URL says the same)."""

    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    user: str | None = None
    password: str | None = None
    starttls: bool = False

    def url(self) -> str:
        """The apprise URL of this server and these recipients."""
        login = f"{quote(self.user, safe='')}:{quote(self.password or '', safe='')}@" if self.user else ""
        query = {
            "from": self.sender,
            "to": ",".join(self.recipients),
            "mode": "starttls" if self.starttls else "insecure",
        }
        return f"mailto://{login}{self.host}:{self.port}/?{urlencode(query)}"


def webhook_target(webhook_url: str) -> str:
    """The apprise URL of a Slack-compatible webhook: Slack's own as it is, any other as a JSON post with ``text``."""
    parts = urlsplit(webhook_url)
    if parts.hostname == "hooks.slack.com":
        return webhook_url
    scheme = "jsons" if parts.scheme == "https" else "json"
    query = [*parse_qsl(parts.query), (":message", "text")]  # the message under Slack's key
    return urlunsplit((scheme, parts.netloc, parts.path, urlencode(query), ""))


def alert_targets(env: Mapping[str, str]) -> list[str]:
    """The apprise URLs of the environment: ``TAXI_ALERT_URLS`` (split on spaces), then the older settings.

    The older ``TAXI_ALERT_WEBHOOK_URL`` and ``TAXI_ALERT_SMTP_*`` / ``TAXI_ALERT_EMAIL_*`` are turned into URLs.
    """
    targets = (env.get("TAXI_ALERT_URLS") or "").split()
    if env.get("TAXI_ALERT_WEBHOOK_URL"):
        targets.append(webhook_target(env["TAXI_ALERT_WEBHOOK_URL"]))
    recipients = tuple(
        address.strip() for address in (env.get("TAXI_ALERT_EMAIL_TO") or "").split(",") if address.strip()
    )
    if env.get("TAXI_ALERT_SMTP_HOST") and recipients:
        smtp = SmtpSettings(
            host=env["TAXI_ALERT_SMTP_HOST"],
            port=int(env.get("TAXI_ALERT_SMTP_PORT") or 25),
            sender=env.get("TAXI_ALERT_EMAIL_FROM") or "taxi-fare-platform@localhost",
            recipients=recipients,
            user=env.get("TAXI_ALERT_SMTP_USER") or None,
            password=env.get("TAXI_ALERT_SMTP_PASSWORD") or None,
            starttls=(env.get("TAXI_ALERT_SMTP_STARTTLS") or "").lower() in ("1", "true", "yes"),
        )
        targets.append(smtp.url())
    return targets


def target_name(url: str) -> str:
    """A target as the history names it: scheme, host and path, credentials and settings left out."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}".rstrip("/") or url.split("?", 1)[0]


class Alerter:
    """Sends alerts to the log, the history table and every target URL, through apprise."""

    def __init__(
        self,
        database_url: str,
        targets: Sequence[str] = (),
        retries: int = DELIVERY_RETRIES,
        wait_seconds: float = DELIVERY_WAIT_SECONDS,
    ) -> None:
        self.database_url = database_url
        self.targets = tuple(targets)
        self.retries = retries
        self.wait_seconds = wait_seconds

    def send(self, alert: Alert) -> dict[str, str]:
        """Deliver to every target; return each one's outcome ("sent" or why not), as stored in the history."""
        fields = {"alert": alert.kind.value, "severity": alert.severity.value, "service": alert.service}
        LOGGER.log(LOG_LEVELS[alert.severity], "%s", alert.title, extra={"fields": fields | {"details": alert.details}})
        delivery = {"log": "sent"}
        for target in self.targets:
            delivery[target_name(target)] = self._deliver(target, alert)
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

    def _deliver(self, target: str, alert: Alert) -> str:
        """One target through apprise (its retries included): "sent", or the last reason it gave."""
        asset = apprise.AppriseAsset()
        asset.default_service_retry = self.retries
        asset.default_service_wait = self.wait_seconds
        notifier = apprise.Apprise(asset=asset)
        if not notifier.add(target):
            LOGGER.warning("alert target %s is not a URL apprise knows", target_name(target))
            return "failed: not a URL apprise knows"
        with apprise.LogCapture(level=logging.WARNING) as captured:
            sent = notifier.notify(
                title=f"[taxi-fare {alert.severity}] {alert.title}",
                body=alert.text(),
                notify_type=NOTIFY_TYPES[alert.severity],
                body_format=apprise.NotifyFormat.TEXT,
            )
        if sent:
            return "sent"
        reasons = [line.split(" - ", 2)[-1] for line in captured.getvalue().splitlines() if "Attempt " not in line]
        reason = reasons[-1] if reasons else "no reason given"
        LOGGER.warning("alert %r not delivered to %s: %s", alert.title, target_name(target), reason)
        return f"failed after {self.retries + 1} attempts: {reason}"

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
