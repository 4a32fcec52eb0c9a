"""The prediction log writer's alerts, recorded in the platform database's alert history like the platform's own.

Two things are worth a person's attention: records the database refused for their content (quarantined: at most
one alert a minute, with the count of each reason since the last), and a database that refuses this API's writes
for a reason only an operator can fix (a privilege revoked, a read-only database, a missing table: one alert when
it starts, again every ``REPEAT_SECONDS`` while it lasts; the records wait in the journal meanwhile). An alert that
cannot be recorded (the database is down, or refuses the alert too) is tried again at the next round.
"""

from __future__ import annotations

import collections
import logging
import time
from typing import Final

import sqlalchemy as sa

from taxi_assets.alerting import Alert, Alerter, Kind, Severity
from taxi_assets.platform_db.prediction_log import PREDICTION_LOG_QUARANTINE
from taxi_serving.prediction_log.store import DRIVER_ERRORS

log = logging.getLogger("taxi_serving.prediction_log.alerts")
QUARANTINE_INTERVAL_SECONDS: Final = 60.0
REPEAT_SECONDS: Final = 3600.0


class SinkAlerts:
    """What the writer has to say to operators, sent from its own thread between shipping rounds."""

    def __init__(self, url: str, service: str | None) -> None:
        self.url = url
        self.service = service or "unknown"
        self._unalerted: collections.Counter[str] = collections.Counter()
        self._last_quarantine_alert = 0.0
        self._refusing: str | None = None
        self._refusing_alerted_at: float | None = None

    def quarantined(self, kind: str) -> None:
        """Count one quarantined record under its reason's kind, for the next quarantine alert."""
        self._unalerted[kind] += 1

    def refusing(self, problem: str | None) -> None:
        """The database's current refusal of this API's writes (None once it takes them again)."""
        if problem is None and self._refusing is not None:
            log.warning("the prediction log database takes this API's rows again")
        if problem is not None and problem != self._refusing:
            log.error("the prediction log database refuses this API's rows, which wait in the journal: %s", problem)
            self._refusing_alerted_at = None  # a new problem: alert at once
        self._refusing = problem

    def send_due(self) -> None:
        """Send the alerts that are due; an alert that cannot be recorded now is tried at the next call."""
        now = time.monotonic()
        if self._unalerted and now - self._last_quarantine_alert >= QUARANTINE_INTERVAL_SECONDS:
            count = sum(self._unalerted.values())
            alert = Alert(
                severity=Severity.WARNING,
                kind=Kind.LOG_QUARANTINED,
                service=self.service,
                title=f"{count} prediction log record(s) refused by the database and quarantined",
                details={"reasons": dict(self._unalerted), "table": PREDICTION_LOG_QUARANTINE.name},
            )
            if self._send(alert):
                self._unalerted.clear()
                self._last_quarantine_alert = now
        due = self._refusing_alerted_at is None or now - self._refusing_alerted_at >= REPEAT_SECONDS
        if self._refusing is not None and due:
            alert = Alert(
                severity=Severity.CRITICAL,
                kind=Kind.LOG_STORE_REFUSING,
                service=self.service,
                title="the prediction log database refuses the API's rows: they wait in the journal until it is fixed",
                details={"problem": self._refusing},
            )
            if self._send(alert):
                self._refusing_alerted_at = now

    def _send(self, alert: Alert) -> bool:
        try:
            Alerter(self.url).send(alert)
        except (sa.exc.SQLAlchemyError, *DRIVER_ERRORS):
            return False  # the database does not take it either: the next round tries
        return True
