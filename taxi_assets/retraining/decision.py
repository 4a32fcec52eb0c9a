"""What one service's new ERROR failures call for: nothing yet, its months ingested first, or a retraining.

The retraining sensor reads the facts from the Dagster instance, the lake and the trip source, and carries out
what ``decide`` returns; the policy itself is here, pure, with no Dagster import:

- a failure whose evaluation already has a retraining run is not retrained again (the run is the record);
- a service retrains at most once per cooldown, counted from its newest retraining whoever started it, unless
  that retraining waited for months that have since arrived;
- a retraining trains on the newest complete months before the failing window; those not in the lake are
  ingested first, and those whose ingestion failed are named on the run, whose month guard then fails clearly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from taxi_assets.retraining.months import newest_available


@dataclass(frozen=True)
class Failure:
    """A failed ERROR check evaluation: which check, its event record id, the service and window it judged."""

    check: str
    evaluation_id: int
    service: str
    window: str


@dataclass(frozen=True)
class Earlier:
    """What the instance says of a service's earlier retrainings.

    ``handled_by`` is the run id of a retraining of the newest failure's evaluation, if any, and ``handled_at``
    its start; ``last_launch`` the start of the service's newest retraining (epoch seconds, 0 when none);
    ``waited_for`` the months that retraining wanted and could not ingest.
    """

    handled_by: str | None = None
    handled_at: float = 0.0
    last_launch: float = 0.0
    waited_for: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    """How often and on what a service retrains."""

    cooldown_seconds: float
    months: int
    first_month: str


@dataclass(frozen=True)
class MonthFacts:
    """Questions about months the sensor answers from the lake, the trip source and the instance."""

    ingested: Callable[[str], bool]
    published: Callable[[str], bool]
    # which of the given months this evaluation already tried to ingest, and failed
    failed_ingests: Callable[[Sequence[str]], list[str]]


class Action(StrEnum):
    """What the sensor does for the service."""

    SKIP = "skip"
    INGEST = "ingest"
    RETRAIN = "retrain"


@dataclass(frozen=True)
class Decision:
    """The action, its months, and how the sensor's cursor moves.

    ``months`` are the months to ingest (INGEST) or to train on (RETRAIN); ``missing`` the months a retraining
    could not get. ``handled_at`` is the launch time to record with the newest evaluation as handled, or None to
    leave the service's cursor where it is (an ingestion first: the failure is taken up again once it is done).
    """

    action: Action
    note: str = ""
    months: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    handled_at: float | None = None


def decide(failures: Sequence[Failure], earlier: Earlier, policy: Policy, facts: MonthFacts, now: float) -> Decision:
    """What ``failures`` (one service's new ERROR failures, oldest first, at least one) call for at ``now``."""
    newest = failures[-1]
    checks = tuple(sorted({failure.check for failure in failures}))
    said = f"{newest.service}: {', '.join(checks)} failed (evaluation {newest.evaluation_id})"
    if earlier.handled_by is not None:
        note = f"{said}, already handled by retrain_job run {earlier.handled_by}"
        return Decision(Action.SKIP, note, checks=checks, handled_at=earlier.handled_at)
    unblocked = bool(earlier.waited_for) and all(facts.ingested(month) for month in earlier.waited_for)
    since = now - earlier.last_launch
    if since < policy.cooldown_seconds and not unblocked:
        note = (
            f"{said} but a retraining started {since:.0f} s ago; cooldown ends in "
            f"{policy.cooldown_seconds - since:.0f} s"
        )
        return Decision(Action.SKIP, note, checks=checks, handled_at=earlier.last_launch)
    months = newest_available(
        newest.window[:10],
        policy.months,
        lambda month: facts.ingested(month) or facts.published(month),
        policy.first_month,
    )
    absent = [month for month in months if not facts.ingested(month)]
    failed = facts.failed_ingests(absent) if absent else []
    waiting = tuple(month for month in absent if month not in failed)
    if waiting:
        return Decision(Action.INGEST, f"{said}; ingesting {', '.join(waiting)} first", months=waiting, checks=checks)
    return Decision(
        Action.RETRAIN, f"{said}; retraining", tuple(months), missing=tuple(failed), checks=checks, handled_at=now
    )
