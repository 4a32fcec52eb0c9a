"""The retraining sensor: a new ERROR failure of a drift_report check launches one retraining run.

Dagster has no built-in trigger on failed asset checks, so the sensor reads the new evaluations of each check
from the instance; the service and window of each come from its partition (window x service). Per service, its cursor
remembers the newest evaluation handled and when it last launched a run: a failure is acted on once (the run
key is derived from the evaluation), and while drift persists at most one run per service starts per cooldown;
failures inside the cooldown are acknowledged and say so in the skip reason. A yellow retraining never delays a
green one.

The instance is the record too: a failure whose evaluation already has a retrain_job run (tag
``taxi/evaluation_id``) is never retrained again, and a service's cooldown counts from its newest retrain_job run,
whether this sensor, ``make retrain`` or the demo started it.
"""

import time
from collections.abc import Sequence
from typing import NamedTuple

import dagster as dg

from taxi_assets import constants, run_tags
from taxi_assets.alerting import Kind, Severity
from taxi_assets.jobs import ingest_job, retrain_job
from taxi_assets.lake_storage import MANIFEST
from taxi_assets.monitoring.checks import DRIFT_CHECKS
from taxi_assets.partitions import SERVICE, WINDOW, month_service_key
from taxi_assets.resources import AlertsResource, DataLake, RetrainingPolicy, TripSource
from taxi_assets.retraining.cursor import SensorCursor
from taxi_assets.retraining.decision import Action, Earlier, Failure, MonthFacts, Policy, decide

CHECK_KEYS = [dg.AssetCheckKey(dg.AssetKey("drift_report"), name) for name in DRIFT_CHECKS]


# how often the daemon evaluates the sensor: a failed check starts its retraining within this (plus the daemon's
# own loop of a few seconds)
RETRAIN_SENSOR_INTERVAL_SECONDS = 20


class SensorResources(NamedTuple):
    """What the sensor reads and tells: the lake, the trip source, the retraining policy, the alerts."""

    lake: DataLake
    alerts: AlertsResource
    trip_source: TripSource
    retraining: RetrainingPolicy


def new_error_failures(instance: dg.DagsterInstance, after_id: int, limit: int = 200) -> list[Failure]:
    """Evaluations of the drift checks after record ``after_id`` that failed with ERROR, oldest first.

    Every evaluation counts, not only each check's latest: with one partition per service and day, a yellow
    evaluation must not hide a green failure made just before it. The service and day come from the partition
    (see ``evaluation_window``).
    """
    failures = []
    for key in CHECK_KEYS:
        for record in instance.event_log_storage.get_asset_check_execution_history(key, limit=limit):
            if record.id <= after_id or record.event is None or record.event.dagster_event is None:
                continue
            evaluation = record.event.dagster_event.event_specific_data
            if not isinstance(evaluation, dg.AssetCheckEvaluation) or evaluation.passed:
                continue
            if evaluation.severity == dg.AssetCheckSeverity.ERROR:
                service, window = evaluation_window(evaluation, record.partition)
                failures.append(Failure(key.name, record.id, service, window))
    return sorted(failures, key=lambda failure: failure.evaluation_id)


def evaluation_window(evaluation: dg.AssetCheckEvaluation, partition: str | None) -> tuple[str, str]:
    """(service, window) a drift_report evaluation judged.

    From its partition key when Dagster records one on the evaluation (``service|window``: Dagster orders the
    dimensions by name), else from the ``service`` and ``window`` the check names in its metadata (Dagster 1.13
    keeps no partition on the evaluations of a partitioned asset's checks).
    """
    key = partition or evaluation.partition
    if key and key.count("|") == 1:
        service, window = key.split("|")
        return service, window
    named = {name: evaluation.metadata.get(name) for name in (SERVICE, WINDOW)}
    if all(isinstance(value, dg.TextMetadataValue) and value.value for value in named.values()):
        return str(named[SERVICE].value), str(named[WINDOW].value)  # type: ignore[union-attr]
    raise ValueError(f"a {evaluation.check_name} evaluation of drift_report names no service and window")


def retrain_request(
    failure: Failure, checks: list[str], months: list[str], expected: int, missing: list[str]
) -> dg.RunRequest:
    """The retraining run for a set of failed checks: labelled traffic plus ``months`` through retrain_job.

    ``failure`` is the newest failed evaluation; its window and checks are in the run's tags and description, so
    the UI says why the run started. ``missing`` are months that should have been there but could not be
    ingested: the run's guard fails naming them, and the sensor retries as soon as they appear.
    """
    service, evaluation_id = failure.service, failure.evaluation_id
    config = {"months": months, "include_traffic": True, "expected_months": expected}
    return dg.RunRequest(
        run_key=f"retrain-{service}-{evaluation_id}",
        job_name="retrain_job",
        partition_key=service,
        run_config={"ops": {"training_set": {"config": config}}},
        tags={
            run_tags.TRIGGER: ",".join(checks),
            run_tags.EVALUATION_ID: str(evaluation_id),
            run_tags.WINDOW: failure.window,
            run_tags.REASON: f"drift_report {', '.join(checks)} failed with ERROR for {service} in window "
            f"{failure.window} (check evaluation {evaluation_id})",
            run_tags.MONTHS: ",".join(months),
            run_tags.MISSING_MONTHS: ",".join(missing),
        },
    )


# Dagster's own tag of a partitioned run: retrain_job is partitioned by service
PARTITION_TAG = "dagster/partition"


def retrain_runs(instance: dg.DagsterInstance, tags: dict[str, str] | None = None) -> list[dg.RunRecord]:
    """The newest retrain_job run (with ``tags``), whoever launched it; empty when there is none."""
    return list(instance.get_run_records(filters=dg.RunsFilter(job_name="retrain_job", tags=tags or {}), limit=1))


def started_at(record: dg.RunRecord) -> float:
    """When the run was created, in epoch seconds."""
    return record.create_timestamp.timestamp()


def ingest_requests(service: str, months: list[str], evaluation_id: int) -> list[dg.RunRequest]:
    """ingest_job runs for retraining months whose features are not in the lake yet."""
    return [
        dg.RunRequest(
            run_key=f"retrain-ingest-{service}-{month}-{evaluation_id}",
            job_name="ingest_job",
            partition_key=str(month_service_key(month, service)),
            tags={run_tags.EVALUATION_ID: str(evaluation_id)},
        )
        for month in months
    ]


def in_lake(lake: DataLake, service: str, month: str) -> bool:
    """Whether the month's features are committed in the lake."""
    return (lake.features(service, month) / MANIFEST).is_file()


def failed_ingests(instance: dg.DagsterInstance, service: str, months: Sequence[str], evaluation_id: int) -> list[str]:
    """Which of ``months`` this evaluation already tried to ingest, and failed."""
    failed = []
    for month in months:
        tags = {run_tags.EVALUATION_ID: str(evaluation_id), PARTITION_TAG: str(month_service_key(month, service))}
        runs = instance.get_run_records(
            filters=dg.RunsFilter(job_name="ingest_job", tags=tags, statuses=[dg.DagsterRunStatus.FAILURE]), limit=1
        )
        if runs:
            failed.append(month)
    return failed


@dg.sensor(
    jobs=[retrain_job, ingest_job],
    minimum_interval_seconds=RETRAIN_SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Retrain and decide on promotion when a drift_report check fails with ERROR (once per cooldown "
    "and service).",
)
def retrain_on_failed_checks(
    context: dg.SensorEvaluationContext,
    lake: DataLake,
    alerts: AlertsResource,
    trip_source: TripSource,
    retraining: RetrainingPolicy,
) -> dg.SensorResult | dg.SkipReason:
    """Read the new check evaluations; per service, request one retraining run per new failure, outside its cooldown.

    When a retraining month is not ingested yet, its ingest run is requested first and that service's failure is
    left unhandled (its cursor stays) until the month is in the lake. Services never wait for each other.
    """
    cursor = SensorCursor.parse(context.cursor)
    by_service: dict[str, list[Failure]] = {}
    for failure in new_error_failures(context.instance, cursor.oldest_handled()):
        if failure.evaluation_id > cursor.last_id(failure.service):
            by_service.setdefault(failure.service, []).append(failure)
    if not by_service:
        return dg.SkipReason(f"no new ERROR failure of {', '.join(DRIFT_CHECKS)} after evaluation {cursor.describe()}")
    requests: list[dg.RunRequest] = []
    notes = []
    for service, failures in sorted(by_service.items()):
        asked, note = _handle(
            context, SensorResources(lake, alerts, trip_source, retraining), cursor, service, failures
        )
        requests += asked
        notes += [note] if note else []
    changed = cursor.dumps() != (context.cursor or SensorCursor.parse(None).dumps())
    return dg.SensorResult(
        run_requests=requests,
        cursor=cursor.dumps() if changed else None,
        skip_reason=None if requests else dg.SkipReason("; ".join(notes)),
    )


def _handle(
    context: dg.SensorEvaluationContext,
    resources: SensorResources,
    cursor: SensorCursor,
    service: str,
    failures: list[Failure],
) -> tuple[list[dg.RunRequest], str]:
    """Read one service's facts, ``decide``, and map the decision to runs, an alert and the cursor."""
    instance, lake, newest = context.instance, resources.lake, failures[-1]
    handled = retrain_runs(instance, tags={run_tags.EVALUATION_ID: str(newest.evaluation_id)})
    latest = retrain_runs(instance, tags={PARTITION_TAG: service})
    earlier = Earlier(
        handled_by=handled[0].dagster_run.run_id if handled else None,
        handled_at=started_at(handled[0]) if handled else 0.0,
        last_launch=max(cursor.last_launch(service), started_at(latest[0]) if latest else 0.0),
        waited_for=tuple(
            m for m in (latest[0].dagster_run.tags.get(run_tags.MISSING_MONTHS, "") if latest else "").split(",") if m
        ),
    )
    facts = MonthFacts(
        ingested=lambda month: in_lake(lake, service, month),
        published=lambda month: resources.trip_source.has_month(service, month),
        failed_ingests=lambda months: failed_ingests(instance, service, list(months), newest.evaluation_id),
    )
    policy = Policy(resources.retraining.cooldown_seconds, resources.retraining.months, constants.FIRST_MONTH)
    decision = decide(failures, earlier, policy, facts, time.time())
    if decision.handled_at is not None:
        cursor.handled(service, newest.evaluation_id, decision.handled_at)
    if decision.action == Action.SKIP:
        return [], decision.note
    if decision.action == Action.INGEST:
        context.log.info(decision.note)
        return ingest_requests(service, list(decision.months), newest.evaluation_id), ""
    request = retrain_request(
        newest, list(decision.checks), list(decision.months), policy.months, list(decision.missing)
    )
    resources.alerts.send(
        Severity.INFO,
        Kind.RETRAIN_STARTED,
        service,
        f"retraining {service} after {', '.join(decision.checks)} failed",
        {
            "run_key": request.run_key,
            "months": ",".join(decision.months),
            "job": "retrain_job",
            "window": newest.window,
        },
    )
    return [request], ""
