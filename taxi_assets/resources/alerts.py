"""Where alerts go, as a resource: the log and alert_history always, a webhook and email when configured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from taxi_assets.alerting import Alert, Alerter, Kind, Severity, SmtpSettings


class AlertsResource(dg.ConfigurableResource):
    """Where alerts go: always the log and the alert_history table; a webhook and email when configured."""

    database_url: str = Field(description="The platform database holding alert_history.")
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
        return Alerter(self.database_url, self.webhook_url, smtp)

    def send(self, severity: Severity, kind: Kind, service: str, title: str, details: dict[str, Any]) -> None:
        """Send one alert to every configured sink (a failing sink is recorded, never raised)."""
        self.alerter().send(Alert(severity, kind, service, title, details))
