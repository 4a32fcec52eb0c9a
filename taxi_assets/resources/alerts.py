"""Where alerts go, as a resource: the log and alert_history always, and every apprise target URL configured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from taxi_assets.alerting import (
    DELIVERY_RETRIES,
    Alert,
    Alerter,
    Kind,
    Severity,
    SmtpSettings,
    webhook_target,
)


class AlertsResource(dg.ConfigurableResource):
    """Where alerts go: always the log and the alert_history table, and each target (apprise URLs)."""

    database_url: str = Field(description="The platform database holding alert_history.")
    urls: list[str] = Field(
        default_factory=list,
        description="apprise URLs, one per target (slack://..., mailto://..., json://...); each gets every alert.",
    )
    retries: int = Field(default=DELIVERY_RETRIES, description="Attempts after a failed one, per target.")
    webhook_url: str | None = Field(default=None, description="Slack-compatible incoming webhook URL.")
    smtp_host: str | None = Field(default=None, description="SMTP server for email alerts; unset means no email.")
    smtp_port: int = Field(default=25, description="SMTP port.")
    smtp_user: str | None = Field(default=None, description="SMTP login, when the server wants one.")
    smtp_password: str | None = Field(default=None, description="SMTP password.")
    smtp_starttls: bool = Field(default=False, description="Upgrade the SMTP connection with STARTTLS.")
    email_from: str = Field(default="taxi-fare-platform@localhost", description="Sender address.")
    email_to: list[str] = Field(default_factory=list, description="Recipients of email alerts.")

    def alerter(self) -> Alerter:
        """An alert sender for this configuration."""
        if self.database_url.startswith("sqlite:///"):
            Path(self.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return Alerter(self.database_url, self.targets(), retries=self.retries)

    def targets(self) -> list[str]:
        """The apprise URLs: ``urls``, then the webhook and the email server when the older settings give them."""
        targets = list(self.urls)
        if self.webhook_url:
            targets.append(webhook_target(self.webhook_url))
        smtp = self.smtp()
        if smtp is not None:
            targets.append(smtp.url())
        return targets

    def smtp(self) -> SmtpSettings | None:
        """Email settings, when a server and recipients are both given."""
        smtp = None
        if self.smtp_host and self.email_to:
            smtp = SmtpSettings(
                host=self.smtp_host,
                port=self.smtp_port,
                sender=self.email_from,
                recipients=tuple(self.email_to),
                user=self.smtp_user,
                password=self.smtp_password,
                starttls=self.smtp_starttls,
            )
        return smtp

    def send(self, severity: Severity, kind: Kind, service: str, title: str, details: dict[str, Any]) -> None:
        """Send one alert to every configured sink (a failing sink is recorded, never raised)."""
        self.alerter().send(Alert(severity, kind, service, title, details))
