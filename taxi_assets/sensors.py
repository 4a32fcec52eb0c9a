"""The retraining sensor: a new ERROR failure of a drift_report check launches one retraining run.

Dagster has no built-in trigger on failed asset checks, so the sensor reads the latest evaluation of each check
from the instance. Its cursor remembers the newest evaluation it has handled and when it last launched a run:
a failure is acted on once (the run key is derived from the evaluation), and while drift persists at most one
run starts per cooldown; failures inside the cooldown are acknowledged and say so in the skip reason.

The instance is the record too: a failure whose evaluation already has a retrain_job run (tag
``taxi/evaluation_id``) is never retrained again, and the cooldown counts from the newest retrain_job run,
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
from taxi_assets.partitions import month_service_key
from taxi_assets.resources import AlertsResource, DataLake

CHECK_KEYS = [dg.AssetCheckKey(drift_report.key, name) for name in DRIFT_CHECKS]


class Failure(NamedTuple):
    """A failed ERROR check evaluation: which check, its event record id, and the service it judged."""

    check: str
    evaluation_id: int
    service: str


def new_error_failures(instance: dg.DagsterInstance, after_id: int) -> list[Failure]:
    """The latest evaluations of the drift checks that failed with ERROR after record ``after_id``, oldest first."""
    failures = []
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(CHECK_KEYS)
    for key, record in records.items():
        if record is None or record.id <= after_id or record.event is None or record.event.dagster_event is None:
            continue
        evaluation = record.event.dagster_event.event_specific_data
        if not isinstance(evaluation, dg.AssetCheckEvaluation):
            continue
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            service = evaluation.metadata.get("service")
            text = service.value if isinstance(service, dg.TextMetadataValue) else constants.DEFAULT_DEMO_SERVICE
            failures.append(Failure(key.name, record.id, str(text)))
    return sorted(failures, key=lambda failure: failure.evaluation_id)


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
    description="Retrain and decide on promotion when a drift_report check fails with ERROR (once per cooldown).",
)
def retrain_on_failed_checks(
    context: dg.SensorEvaluationContext, lake: DataLake, alerts: AlertsResource
) -> dg.SensorResult | dg.SkipReason:
    """Read the latest check evaluations; request one retraining run per new failure, outside the cooldown.

    When a retraining month is not ingested yet, its ingest run is requested first and the failure is left
    unhandled (the cursor stays) until the month is in the lake.
    """
    state = json.loads(context.cursor) if context.cursor else {}
    last_id, last_launch = int(state.get("last_id", 0)), float(state.get("last_launch", 0.0))
    failures = new_error_failures(context.instance, last_id)
    if not failures:
        return dg.SkipReason(f"no new ERROR failure of {', '.join(DRIFT_CHECKS)} after evaluation {last_id}")
    newest, service = failures[-1].evaluation_id, failures[-1].service
    checks = sorted({failure.check for failure in failures})
    handled = retrain_runs(context.instance, tags={EVALUATION_TAG: str(newest)})
    if handled:
        return dg.SensorResult(
            skip_reason=dg.SkipReason(
                f"{', '.join(checks)} failed (evaluation {newest}), already handled by retrain_job run "
                f"{handled[0].dagster_run.run_id}"
            ),
            cursor=json.dumps({"last_id": newest, "last_launch": max(last_launch, started_at(handled[0]))}),
        )
    # the cooldown counts every retraining in the instance: this sensor's, a manual one, the demo's
    latest = retrain_runs(context.instance)
    last_launch = max(last_launch, started_at(latest[0])) if latest else last_launch
    now = time.time()
    if now - last_launch < constants.RETRAIN_COOLDOWN_SECONDS:
        wait = constants.RETRAIN_COOLDOWN_SECONDS - (now - last_launch)
        return dg.SensorResult(
            skip_reason=dg.SkipReason(
                f"{', '.join(checks)} failed (evaluation {newest}) but a retraining started {now - last_launch:.0f} s "
                f"ago; cooldown ends in {wait:.0f} s"
            ),
            cursor=json.dumps({"last_id": newest, "last_launch": last_launch}),
        )
    ingests = ingest_requests(lake, service, newest)
    if ingests:
        context.log.info(
            f"{', '.join(checks)} failed (evaluation {newest}); ingesting the retraining months "
            f"{', '.join(str(r.partition_key) for r in ingests)} before the retraining run"
        )
        return dg.SensorResult(run_requests=ingests)
    request = retrain_request(service, checks, newest)
    alerts.send(
        Severity.INFO,
        Kind.RETRAIN_STARTED,
        service,
        f"retraining {service} after {', '.join(checks)} failed",
        {"run_key": request.run_key, "months": ",".join(constants.RETRAIN_MONTHS[service]), "job": "retrain_job"},
    )
    return dg.SensorResult(
        run_requests=[request],
        cursor=json.dumps({"last_id": newest, "last_launch": now}),
    )
