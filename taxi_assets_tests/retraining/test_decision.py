"""The retraining policy on known answers: already handled, cooldown, months to ingest first, a retraining."""

from collections.abc import Sequence

from taxi_assets.retraining.decision import Action, Earlier, Failure, MonthFacts, Policy, decide

NOW = 1_000_000.0
POLICY = Policy(cooldown_seconds=3600.0, months=2, first_month="2022-01")
FAILURES = [
    Failure("feature_drift", 7, "green", "2023-03-14-10:00"),
    Failure("accuracy", 9, "green", "2023-03-14-11:00"),
]


def facts(ingested: set[str], published: set[str], failed: Sequence[str] = ()) -> MonthFacts:
    def failed_ingests(months: Sequence[str]) -> list[str]:
        return [month for month in months if month in failed]

    return MonthFacts(ingested.__contains__, published.__contains__, failed_ingests)


def test_a_failure_already_retrained_is_skipped_and_its_run_named() -> None:
    decision = decide(FAILURES, Earlier(handled_by="abc123", handled_at=NOW - 50), POLICY, facts(set(), set()), NOW)
    assert decision.action == Action.SKIP
    assert (
        decision.note
        == "green: accuracy, feature_drift failed (evaluation 9), already handled by retrain_job run abc123"
    )
    assert decision.handled_at == NOW - 50


def test_inside_the_cooldown_the_failure_is_acknowledged_with_the_time_left() -> None:
    earlier = Earlier(last_launch=NOW - 600)
    decision = decide(FAILURES, earlier, POLICY, facts({"2023-01", "2023-02"}, set()), NOW)
    assert decision.action == Action.SKIP
    assert decision.note.endswith("but a retraining started 600 s ago; cooldown ends in 3000 s")
    assert decision.handled_at == NOW - 600  # the cursor keeps the launch it counts from


def test_a_retraining_that_waited_for_months_runs_again_inside_the_cooldown_once_they_arrived() -> None:
    earlier = Earlier(last_launch=NOW - 600, waited_for=("2023-02",))
    still_missing = decide(FAILURES, earlier, POLICY, facts({"2023-01"}, {"2023-02"}), NOW)
    assert still_missing.action == Action.SKIP
    arrived = decide(FAILURES, earlier, POLICY, facts({"2023-01", "2023-02"}, set()), NOW)
    assert (arrived.action, arrived.months, arrived.handled_at) == (Action.RETRAIN, ("2023-01", "2023-02"), NOW)


def test_the_newest_complete_months_before_the_window_are_trained_on() -> None:
    decision = decide(FAILURES, Earlier(), POLICY, facts({"2022-12", "2023-01", "2023-02"}, set()), NOW)
    assert decision.action == Action.RETRAIN
    assert decision.months == ("2023-01", "2023-02")  # March, the window's month, is not complete
    assert decision.checks == ("accuracy", "feature_drift")
    assert decision.missing == ()
    assert decision.handled_at == NOW


def test_published_months_not_in_the_lake_are_ingested_first_and_the_failure_left_open() -> None:
    decision = decide(FAILURES, Earlier(), POLICY, facts({"2023-01"}, {"2023-02"}), NOW)
    assert decision.action == Action.INGEST
    assert decision.months == ("2023-02",)
    assert decision.handled_at is None  # taken up again once the month is in the lake
    assert decision.note == "green: accuracy, feature_drift failed (evaluation 9); ingesting 2023-02 first"


def test_a_month_whose_ingestion_failed_is_named_on_the_retraining_not_ingested_again() -> None:
    decision = decide(FAILURES, Earlier(), POLICY, facts({"2023-01"}, {"2023-02"}, failed=["2023-02"]), NOW)
    assert decision.action == Action.RETRAIN
    assert decision.months == ("2023-01", "2023-02")
    assert decision.missing == ("2023-02",)


def test_months_the_source_has_not_published_are_passed_over_for_older_ones() -> None:
    decision = decide(FAILURES, Earlier(), POLICY, facts({"2022-11", "2022-12"}, set()), NOW)
    assert (decision.action, decision.months) == (Action.RETRAIN, ("2022-11", "2022-12"))


def test_the_cooldown_counts_from_the_newest_launch_and_ends_on_time() -> None:
    lake = facts({"2023-01", "2023-02"}, set())
    just_inside = decide(FAILURES, Earlier(last_launch=NOW - 3599), POLICY, lake, NOW)
    just_after = decide(FAILURES, Earlier(last_launch=NOW - 3600), POLICY, lake, NOW)
    assert (just_inside.action, just_after.action) == (Action.SKIP, Action.RETRAIN)
