"""The prediction log writer's alerts, recorded in the platform database's alert history like the platform's own.

Two things are worth a person's attention: records the database refused for their content (quarantined: at most
one alert a minute, with the count of each reason since the last), and a database that refuses this API's writes
for a reason only an operator can fix (a privilege revoked, a read-only database, a missing table: one alert when
it starts, again every ``REPEAT_SECONDS`` while it lasts; the records wait in the journal meanwhile). They go where
the platform's alerts go (``TAXI_ALERT_URLS`` through apprise, and the alert history), from a thread of their own,
so a slow or unreachable target never holds up shipping. An alert that cannot be recorded (the database is down,
or refuses the alert too) is tried again at the next round.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
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

    def __init__(self, url: str, service: str | None, targets: Sequence[str] = ()) -> None:
        self.url = url
        self.service = service or "unknown"
        # apprise URLs (the API's TAXI_ALERT_URLS and the older webhook and email settings)
        self.targets = tuple(targets)
        self._lock = threading.Lock()
        self._delivery: Future[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._unalerted: collections.Counter[str] = collections.Counter()
        self._last_quarantine_alert = 0.0
        self._refusing: str | None = None
        self._refusing_alerted_at: float | None = None

    def quarantined(self, kind: str) -> None:
        """Count one quarantined record under its reason's kind, for the next quarantine alert."""
        with self._lock:
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
        """Start the delivery of the alerts that are due; one that cannot be recorded is tried at a later call."""
        if self._delivery is not None and not self._delivery.done():
            return  # one delivery at a time: what is due now goes at a later round
        now = time.monotonic()
        with self._lock:
            counts = collections.Counter(self._unalerted)
        if counts and now - self._last_quarantine_alert >= QUARANTINE_INTERVAL_SECONDS:
            alert = Alert(
                severity=Severity.WARNING,
                kind=Kind.LOG_QUARANTINED,
                service=self.service,
                title=f"{sum(counts.values())} prediction log record(s) refused by the database and quarantined",
                details={"reasons": dict(counts), "table": PREDICTION_LOG_QUARANTINE.name},
            )
            self._start(alert, lambda: self._quarantine_sent(counts, now))
            return
        due = self._refusing_alerted_at is None or now - self._refusing_alerted_at >= REPEAT_SECONDS
        if self._refusing is not None and due:
            alert = Alert(
                severity=Severity.CRITICAL,
                kind=Kind.LOG_STORE_REFUSING,
                service=self.service,
                title="the prediction log database refuses the API's rows: they wait in the journal until it is fixed",
                details={"problem": self._refusing},
            )
            self._start(alert, lambda: setattr(self, "_refusing_alerted_at", now))

    def wait(self, timeout: float = 30.0) -> None:
        """Wait for the delivery in flight (tests, and a stopping writer)."""
        if self._delivery is not None:
            self._delivery.exception(timeout=timeout)

    def close(self) -> None:
        """Let the delivery in flight finish, then stop the delivery thread."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    def _quarantine_sent(self, counts: collections.Counter[str], at: float) -> None:
        with self._lock:
            self._unalerted.subtract(counts)
            self._unalerted = +self._unalerted  # drop the kinds counted down to zero
        self._last_quarantine_alert = at

    def _start(self, alert: Alert, sent: Callable[[], None]) -> None:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prediction-log-alerts")
        self._delivery = self._executor.submit(self._send, alert, sent)

    def _send(self, alert: Alert, sent: Callable[[], None]) -> None:
        try:
            Alerter(self.url, self.targets).send(alert)
        except (sa.exc.SQLAlchemyError, *DRIVER_ERRORS):
            return  # the database does not take it either: a later round tries again
        sent()
