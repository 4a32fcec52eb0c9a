"""The retraining sensor: a new ERROR failure of a drift_report check launches one retraining run.

Dagster has no built-in trigger on failed asset checks, so the sensor reads the new evaluations of each check
from the instance; the service of each comes from its partition (window x service). Per service, its cursor
remembers the newest evaluation handled and when it last launched a run: a failure is acted on once (the run
key is derived from the evaluation), and while drift persists at most one run per service starts per cooldown;
failures inside the cooldown are acknowledged and say so in the skip reason. A yellow retraining never delays a
green one.

The instance is the record too: a failure whose evaluation already has a retrain_job run (tag
``taxi/evaluation_id``) is never retrained again, and a service's cooldown counts from its newest retrain_job run,
whether this sensor, ``make retrain`` or the demo started it.
"""

import json
import time
from typing import NamedTuple

import dagster as dg

from taxi_assets import constants
from taxi_assets.assets.drift import drift_report
from taxi_assets.drift.checks import DRIFT_CHECKS
from taxi_assets.jobs import ingest_job, retrain_job
from taxi_assets.lakefs import MANIFEST
from taxi_assets.lifecycle.alerts import Kind, Severity
from taxi_assets.partitions import SERVICE, month_service_key, window_service_partitions
from taxi_assets.resources import AlertsResource, DataLake

CHECK_KEYS = [dg.AssetCheckKey(drift_report.key, name) for name in DRIFT_CHECKS]


class Failure(NamedTuple):
    """A failed ERROR check evaluation: which check, its event record id, and the service it judged."""

    check: str
    evaluation_id: int
    service: str


def new_error_failures(instance: dg.DagsterInstance, after_id: int, limit: int = 200) -> list[Failure]:
    """Evaluations of the drift checks after record ``after_id`` that failed with ERROR, oldest first.

    Every evaluation counts, not only each check's latest: with one partition per service and day, a yellow
    evaluation must not hide a green failure made just before it. The service comes from the partition key.
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
                failures.append(Failure(key.name, record.id, evaluation_service(evaluation, record.partition)))
    return sorted(failures, key=lambda failure: failure.evaluation_id)


def evaluation_service(evaluation: dg.AssetCheckEvaluation, partition: str | None) -> str:
    """The service a drift_report evaluation judged: its partition key's, else the ``service`` it names."""
    key = partition or evaluation.partition
    if key:
        return window_service_partitions.get_partition_key_from_str(key).keys_by_dimension[SERVICE]
    service = evaluation.metadata.get("service")
    if isinstance(service, dg.TextMetadataValue) and service.value:
        return service.value
    raise ValueError(f"a {evaluation.check_name} evaluation names no service (partition {key!r})")


def retrain_request(service: str, checks: list[str], evaluation_id: int) -> dg.RunRequest:
    """The retraining run for a set of failed checks: labelled traffic plus the latest months through retrain_job."""
    months = list(constants.RETRAIN_MONTHS[service])
    return dg.RunRequest(
        run_key=f"retrain-{service}-{evaluation_id}",
        job_name="retrain_job",
        partition_key=service,
        run_config={"ops": {"training_set": {"config": {"months": months, "include_traffic": True}}}},
        tags={"taxi/trigger": ",".join(checks), EVALUATION_TAG: str(evaluation_id)},
    )


EVALUATION_TAG = "taxi/evaluation_id"
# Dagster's own tag of a partitioned run: retrain_job is partitioned by service
PARTITION_TAG = "dagster/partition"


def retrain_runs(instance: dg.DagsterInstance, tags: dict[str, str] | None = None) -> list[dg.RunRecord]:
    """The newest retrain_job run (with ``tags``), whoever launched it; empty when there is none."""
    return list(instance.get_run_records(filters=dg.RunsFilter(job_name="retrain_job", tags=tags or {}), limit=1))


def started_at(record: dg.RunRecord) -> float:
    """When the run was created, in epoch seconds."""
    return record.create_timestamp.timestamp()


def ingest_requests(lake: DataLake, service: str, evaluation_id: int) -> list[dg.RunRequest]:
    """ingest_job runs for the retraining months whose features are not in the lake yet."""
    missing = [m for m in constants.RETRAIN_MONTHS[service] if not (lake.features(service, m) / MANIFEST).is_file()]
    return [
        dg.RunRequest(
            run_key=f"retrain-ingest-{service}-{month}-{evaluation_id}",
            job_name="ingest_job",
            partition_key=str(month_service_key(month, service)),
            tags={EVALUATION_TAG: str(evaluation_id)},
        )
        for month in missing
    ]


@dg.sensor(
    jobs=[retrain_job, ingest_job],
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Retrain and decide on promotion when a drift_report check fails with ERROR (once per cooldown "
    "and service).",
)
def retrain_on_failed_checks(
    context: dg.SensorEvaluationContext, lake: DataLake, alerts: AlertsResource
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
        asked, note = _handle(context, lake, alerts, cursor, service, failures)
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
    lake: DataLake,
    alerts: AlertsResource,
    cursor: "SensorCursor",
    service: str,
    failures: list[Failure],
) -> tuple[list[dg.RunRequest], str]:
    """The runs one service's new failures call for, and what was decided instead when none."""
    newest = failures[-1].evaluation_id
    checks = ", ".join(sorted({failure.check for failure in failures}))
    handled = retrain_runs(context.instance, tags={EVALUATION_TAG: str(newest)})
    if handled:
        cursor.handled(service, newest, started_at(handled[0]))
        run_id = handled[0].dagster_run.run_id
        return [], f"{service}: {checks} failed (evaluation {newest}), already handled by retrain_job run {run_id}"
    # the cooldown counts every retraining of this service in the instance: this sensor's, a manual one, the demo's
    latest = retrain_runs(context.instance, tags={PARTITION_TAG: service})
    last_launch = max(cursor.last_launch(service), started_at(latest[0]) if latest else 0.0)
    now = time.time()
    if now - last_launch < constants.RETRAIN_COOLDOWN_SECONDS:
        cursor.handled(service, newest, last_launch)
        wait = constants.RETRAIN_COOLDOWN_SECONDS - (now - last_launch)
        return [], (
            f"{service}: {checks} failed (evaluation {newest}) but a retraining started {now - last_launch:.0f} s "
            f"ago; cooldown ends in {wait:.0f} s"
        )
    ingests = ingest_requests(lake, service, newest)
    if ingests:
        months = ", ".join(str(request.partition_key) for request in ingests)
        context.log.info(f"{checks} failed (evaluation {newest}); ingesting the retraining months {months} first")
        return ingests, ""
    request = retrain_request(service, sorted({failure.check for failure in failures}), newest)
    alerts.send(
        Severity.INFO,
        Kind.RETRAIN_STARTED,
        service,
        f"retraining {service} after {checks} failed",
        {"run_key": request.run_key, "months": ",".join(constants.RETRAIN_MONTHS[service]), "job": "retrain_job"},
    )
    cursor.handled(service, newest, now)
    return [request], ""


class SensorCursor:
    """Per service: the newest evaluation handled and when its last retraining started (JSON in the cursor)."""

    def __init__(self, services: dict[str, dict[str, float]]) -> None:
        """``services`` maps a service to ``{"last_id": ..., "last_launch": ...}``."""
        self.services = services

    @classmethod
    def parse(cls, text: str | None) -> "SensorCursor":
        """Read a cursor; one written before services were kept apart applies to every service."""
        state = json.loads(text) if text else {}
        if "services" in state:
            return cls({name: dict(values) for name, values in state["services"].items()})
        legacy = {"last_id": float(state.get("last_id", 0)), "last_launch": float(state.get("last_launch", 0.0))}
        return cls({service: dict(legacy) for service in constants.SERVICES})

    def last_id(self, service: str) -> int:
        """The newest evaluation handled for ``service``."""
        return int(self.services.get(service, {}).get("last_id", 0))

    def last_launch(self, service: str) -> float:
        """When this sensor last launched a retraining of ``service`` (epoch seconds)."""
        return float(self.services.get(service, {}).get("last_launch", 0.0))

    def oldest_handled(self) -> int:
        """The evaluation after which any service may have something new."""
        return min((self.last_id(service) for service in constants.SERVICES), default=0)

    def handled(self, service: str, evaluation_id: int, launched: float) -> None:
        """Record that ``service``'s failures up to ``evaluation_id`` are dealt with."""
        self.services[service] = {"last_id": evaluation_id, "last_launch": max(launched, self.last_launch(service))}

    def describe(self) -> str:
        """The handled evaluations, for a skip reason."""
        return ", ".join(f"{service} {self.last_id(service)}" for service in constants.SERVICES)

    def dumps(self) -> str:
        """The cursor as stored."""
        return json.dumps({"services": self.services}, sort_keys=True)
