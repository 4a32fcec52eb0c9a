"""Incidents: a check that keeps failing alerts once, escalates once, and resolves once, in SQLite and PostgreSQL."""

from taxi_assets.monitoring.incidents import ERROR, IncidentStore, Outcome, Transition, step


def outcome(window: str, passed: bool, severity: str = ERROR, judged: bool = True) -> Outcome:
    return Outcome("green", "accuracy", window, passed, judged, severity, "3")


def test_a_run_of_failures_is_one_incident_from_its_first_to_its_last_window() -> None:
    transition, incident = step(None, outcome("2026-03-01-10:00", passed=False))
    assert transition is Transition.OPENED
    assert transition.alerts
    assert incident is not None
    for window in ("2026-03-01-11:00", "2026-03-01-12:00"):
        transition, incident = step(incident, outcome(window, passed=False))
        assert transition is Transition.CONTINUED
        assert not transition.alerts
    assert incident is not None
    assert (incident.first_window, incident.last_window, incident.failed_windows) == (
        "2026-03-01-10:00",
        "2026-03-01-12:00",
        3,
    )
    transition, resolved = step(incident, outcome("2026-03-01-13:00", passed=True))
    assert transition is Transition.RESOLVED
    assert resolved is not None
    assert resolved.resolved_window == "2026-03-01-13:00"


def test_too_little_data_changes_nothing_and_a_late_pass_on_an_older_window_does_not_resolve() -> None:
    _, incident = step(None, outcome("2026-03-01-10:00", passed=False))
    assert step(incident, outcome("2026-03-01-11:00", passed=True, judged=False)) == (Transition.UNCHANGED, incident)
    assert step(incident, outcome("2026-03-01-09:00", passed=True)) == (Transition.UNCHANGED, incident)
    assert step(None, outcome("2026-03-01-11:00", passed=True)) == (Transition.UNCHANGED, None)
    # a backfilled failure of an older window widens the incident backwards
    transition, wider = step(incident, outcome("2026-03-01-08:00", passed=False))
    assert transition is Transition.CONTINUED
    assert wider is not None
    assert (wider.first_window, wider.last_window) == ("2026-03-01-08:00", "2026-03-01-10:00")


def test_an_error_after_warnings_escalates_the_incident_once() -> None:
    _, incident = step(None, outcome("2026-03-01-10:00", passed=False, severity="WARN"))
    transition, incident = step(incident, outcome("2026-03-01-11:00", passed=False, severity=ERROR))
    assert transition is Transition.ESCALATED
    assert incident is not None
    assert incident.severity == ERROR
    transition, _ = step(incident, outcome("2026-03-01-12:00", passed=False, severity="WARN"))
    assert transition is Transition.CONTINUED


def test_the_store_keeps_one_open_incident_per_check_and_service(database_url: str) -> None:
    store = IncidentStore(database_url)
    transitions = [
        store.record(outcome(window, passed))[0]
        for window, passed in [
            ("2026-03-01-10:00", False),
            ("2026-03-01-11:00", False),
            ("2026-03-01-12:00", True),
            ("2026-03-01-13:00", False),
        ]
    ]
    assert transitions == [Transition.OPENED, Transition.CONTINUED, Transition.RESOLVED, Transition.OPENED]
    # another service's failure of the same check is its own incident
    assert (
        store.record(Outcome("yellow", "accuracy", "2026-03-01-13:00", False, True, ERROR, "1"))[0] is Transition.OPENED
    )
    incidents = store.incidents("green")
    assert [(i.first_window, i.last_window, i.resolved_window, i.failed_windows) for i in incidents] == [
        ("2026-03-01-10:00", "2026-03-01-11:00", "2026-03-01-12:00", 2),
        ("2026-03-01-13:00", "2026-03-01-13:00", None, 1),
    ]
