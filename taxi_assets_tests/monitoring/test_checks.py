"""The check rules on finished reports, and how the verdicts of several model versions combine."""

import pytest

from taxi_assets.monitoring.checks import ACCURACY, DRIFT_CHECKS, ERROR, WARN, Verdict, combine, version_order


def verdicts(failing: dict[str, str]) -> list[Verdict]:
    """One verdict per check; ``failing`` maps a check to the severity it fails with."""
    return [
        Verdict(check, passed=check not in failing, severity=failing.get(check, ERROR), metadata={"value": 1.0})
        for check in DRIFT_CHECKS
    ]


def test_the_champions_failure_is_the_incident() -> None:
    combined = {v.check: v for v in combine({"3": verdicts({ACCURACY: ERROR}), "2": verdicts({})}, champion="3")}
    assert not combined[ACCURACY].passed
    assert combined[ACCURACY].severity == ERROR
    assert combined[ACCURACY].metadata["model_version"] == "3"
    assert all(combined[check].passed for check in DRIFT_CHECKS if check != ACCURACY)


def test_a_previous_champions_failure_is_history_and_never_an_error() -> None:
    combined = {v.check: v for v in combine({"2": verdicts({ACCURACY: ERROR}), "3": verdicts({})}, champion="3")}
    accuracy = combined[ACCURACY]
    assert not accuracy.passed
    assert accuracy.severity == WARN
    assert accuracy.metadata["model_version"] == "2"
    assert accuracy.metadata["versions"] == {
        "3": {"passed": True, "severity": None},
        "2": {"passed": False, "severity": WARN},
    }


def test_a_window_served_only_by_an_old_version_warns_and_versions_sort_as_numbers() -> None:
    combined = {v.check: v for v in combine({"9": verdicts({ACCURACY: ERROR}), "10": verdicts({})}, champion="11")}
    assert combined[ACCURACY].severity == WARN
    assert sorted(["10", "9", "2"], key=version_order) == ["2", "9", "10"]
    with pytest.raises(ValueError, match="no model version"):
        combine({}, champion="1")
