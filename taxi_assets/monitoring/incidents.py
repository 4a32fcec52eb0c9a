"""Incidents: the windows in a row in which one check of one service failed, alerted once and resolved once.

A check that keeps failing window after window is one incident: its first failure opens it (and alerts), later
failures only move its last window on (an ERROR after WARN failures escalates it, and alerts again), and the
first window judged to pass after it resolves it (a RESOLVED alert). A window with too little data to judge
changes nothing. ``step`` is the rule, pure; ``IncidentStore`` keeps the open incidents in the platform database.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa

from taxi_assets.alerting import Kind, Severity
from taxi_assets.platform_db.records import INCIDENTS
from taxi_assets.platform_db.schema import ensure_schema

if TYPE_CHECKING:
    from taxi_assets.monitoring.checks import Verdict

AlertArgs = tuple[Severity, Kind, str, str, dict[str, object]]

ERROR: Final = "ERROR"


class Transition(StrEnum):
    """What one window's verdict did to its check's incident."""

    OPENED = "opened"
    CONTINUED = "continued"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    UNCHANGED = "unchanged"

    @property
    def alerts(self) -> bool:
        """Whether the transition is news: opened, escalated or resolved."""
        return self in (Transition.OPENED, Transition.ESCALATED, Transition.RESOLVED)


@dataclass(frozen=True)
class Incident:
    """One incident: the check, its worst severity, and the first and last failing windows."""

    service: str
    check: str
    severity: str
    model_version: str
    first_window: str
    last_window: str
    failed_windows: int = 1
    resolved_window: str | None = None
    id: int | None = None


@dataclass(frozen=True)
class Outcome:
    """One window's verdict of one check, as the incident rule reads it."""

    service: str
    check: str
    window: str
    passed: bool
    judged: bool
    severity: str
    model_version: str


def step(open_incident: Incident | None, outcome: Outcome) -> tuple[Transition, Incident | None]:
    """The transition one verdict makes, and the incident as it stands after it (None when there is none).

    Window keys sort in time order, so a late verdict on an older window (a backfill) never resolves an
    incident that a newer window opened.
    """
    if not outcome.judged:
        return Transition.UNCHANGED, open_incident
    if not outcome.passed:
        if open_incident is None:
            fresh = Incident(
                outcome.service,
                outcome.check,
                outcome.severity,
                outcome.model_version,
                outcome.window,
                outcome.window,
            )
            return Transition.OPENED, fresh
        escalated = outcome.severity == ERROR and open_incident.severity != ERROR
        newest = outcome.window >= open_incident.last_window
        moved = replace(
            open_incident,
            severity=ERROR if escalated else open_incident.severity,
            model_version=outcome.model_version if newest else open_incident.model_version,
            first_window=min(open_incident.first_window, outcome.window),
            last_window=max(open_incident.last_window, outcome.window),
            failed_windows=open_incident.failed_windows + 1,
        )
        return (Transition.ESCALATED if escalated else Transition.CONTINUED), moved
    if open_incident is not None and outcome.window > open_incident.last_window:
        return Transition.RESOLVED, replace(open_incident, resolved_window=outcome.window)
    return Transition.UNCHANGED, open_incident


class IncidentStore:
    """The incidents in the platform database: one open incident per service and check at most."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    def record(self, outcome: Outcome, now: datetime | None = None) -> tuple[Transition, Incident | None]:
        """Apply one verdict to its check's open incident, in one transaction; the transition and the incident."""
        moment = now or datetime.now(UTC)
        engine = sa.create_engine(self.database_url)
        try:
            ensure_schema(engine)
            with engine.begin() as connection:
                current = self._open(connection, outcome.service, outcome.check)
                transition, incident = step(current, outcome)
                if incident is not None and transition is not Transition.UNCHANGED:
                    incident = self._save(connection, incident, transition, moment)
        finally:
            engine.dispose()
        return transition, incident

    def incidents(self, service: str | None = None) -> list[Incident]:
        """Every incident, oldest first (optionally of one service)."""
        engine = sa.create_engine(self.database_url)
        try:
            ensure_schema(engine)
            query = sa.select(INCIDENTS).order_by(INCIDENTS.c.id)
            if service is not None:
                query = query.where(INCIDENTS.c.service == service)
            with engine.connect() as connection:
                return [_incident(row) for row in connection.execute(query)]
        finally:
            engine.dispose()

    @staticmethod
    def _open(connection: sa.Connection, service: str, check: str) -> Incident | None:
        query = (
            sa.select(INCIDENTS)
            .where(INCIDENTS.c.service == service, INCIDENTS.c.check_name == check, INCIDENTS.c.resolved_at.is_(None))
            .order_by(INCIDENTS.c.id.desc())
            .limit(1)
        )
        row = connection.execute(query).first()
        return _incident(row) if row is not None else None

    @staticmethod
    def _save(connection: sa.Connection, incident: Incident, transition: Transition, now: datetime) -> Incident:
        values = {
            "severity": incident.severity,
            "model_version": incident.model_version,
            "first_window": incident.first_window,
            "last_window": incident.last_window,
            "failed_windows": incident.failed_windows,
            "updated_at": now,
            "resolved_window": incident.resolved_window,
            "resolved_at": now if transition is Transition.RESOLVED else None,
        }
        if incident.id is None:
            inserted = connection.execute(
                INCIDENTS.insert().values(service=incident.service, check_name=incident.check, opened_at=now, **values)
            )
            key = inserted.inserted_primary_key
            assert key is not None  # an INSERT of one row has its key
            return replace(incident, id=int(key[0]))
        connection.execute(INCIDENTS.update().where(INCIDENTS.c.id == incident.id).values(**values))
        return incident


def _incident(row: sa.Row[Any]) -> Incident:
    return Incident(
        service=row.service,
        check=row.check_name,
        severity=row.severity,
        model_version=row.model_version,
        first_window=row.first_window,
        last_window=row.last_window,
        failed_windows=row.failed_windows,
        resolved_window=row.resolved_window,
        id=row.id,
    )


def incident_alert(transition: Transition, incident: Incident, verdict: Verdict, window: str, name: str) -> AlertArgs:
    """The alert of an incident that opened, escalated or resolved, with its first and last failing windows.

    CRITICAL for ERROR checks (they retrain), WARNING for WARN, INFO when resolved. It names the model version
    whose traffic failed, which after a promotion may be the previous champion.
    """
    windows = {"first_window": incident.first_window, "last_window": incident.last_window}
    if transition is Transition.RESOLVED:
        details: dict[str, object] = {
            **windows,
            "resolved_window": incident.resolved_window,
            "failed_windows": incident.failed_windows,
            "severity": incident.severity,
        }
        title = f"RESOLVED: {name} drift_report check {incident.check} passes again"
        return Severity.INFO, Kind.CHECK_RESOLVED, incident.service, title, details
    severity = Severity.CRITICAL if incident.severity == ERROR else Severity.WARNING
    details = {**windows, "window": window} | {k: v for k, v in verdict.metadata.items() if k != "note"}
    verb = "escalated to ERROR" if transition is Transition.ESCALATED else "failed"
    title = f"{name} v{incident.model_version}: drift_report check {incident.check} {verb}"
    return severity, Kind.CHECK_FAILED, incident.service, title, details


def record_verdicts(
    store: IncidentStore, verdicts: list[Verdict], service: str, window: str, name: str
) -> list[AlertArgs]:
    """Record each verdict on its check's incident; the alerts of the incidents that opened, escalated or resolved."""
    alerts = []
    for verdict in verdicts:
        version = str(verdict.metadata.get("model_version", ""))
        outcome = Outcome(service, verdict.check, window, verdict.passed, verdict.judged, verdict.severity, version)
        transition, incident = store.record(outcome)
        if transition.alerts and incident is not None:
            alerts.append(incident_alert(transition, incident, verdict, window, name))
    return alerts
