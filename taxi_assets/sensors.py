"""The retraining sensor: a new ERROR failure of a drift_report check launches one retraining run.

Dagster has no built-in trigger on failed asset checks, so the sensor reads the latest evaluation of each check
from the instance. Its cursor remembers the newest evaluation it has handled and when it last launched a run:
a failure is acted on once (the run key is derived from the evaluation), and while drift persists at most one
run starts per cooldown; failures inside the cooldown are acknowledged and say so in the skip reason.
"""

import json
import time

import dagster as dg

from taxi_assets import constants
from taxi_assets.assets.drift import DRIFT_CHECKS, drift_report

CHECK_KEYS = [dg.AssetCheckKey(drift_report.key, name) for name in DRIFT_CHECKS]


def new_error_failures(instance: dg.DagsterInstance, after_id: int) -> list[tuple[str, int]]:
    """(check name, evaluation record id) of the latest evaluations that failed with ERROR after ``after_id``."""
    failures = []
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(CHECK_KEYS)
    for key, record in records.items():
        if record is None or record.id <= after_id or record.event is None or record.event.dagster_event is None:
            continue
        evaluation = record.event.dagster_event.event_specific_data
        if not isinstance(evaluation, dg.AssetCheckEvaluation):
            continue
        if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
            failures.append((key.name, record.id))
    return sorted(failures, key=lambda failure: failure[1])


def retrain_request(service: str, checks: list[str], evaluation_id: int) -> dg.RunRequest:
    """The retraining run for a set of failed checks: the latest months through train_job."""
    months = list(constants.RETRAIN_MONTHS[service])
    return dg.RunRequest(
        run_key=f"retrain-{service}-{evaluation_id}",
        partition_key=service,
        run_config={"ops": {"training_set": {"config": {"months": months}}}},
        tags={"taxi/trigger": ",".join(checks), "taxi/evaluation_id": str(evaluation_id)},
    )


@dg.sensor(
    job_name="train_job",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Retrain and decide on promotion when a drift_report check fails with ERROR (once per cooldown).",
)
def retrain_on_failed_checks(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    """Read the latest check evaluations; request one retraining run per new failure, outside the cooldown."""
    state = json.loads(context.cursor) if context.cursor else {}
    last_id, last_launch = int(state.get("last_id", 0)), float(state.get("last_launch", 0.0))
    failures = new_error_failures(context.instance, last_id)
    if not failures:
        return dg.SkipReason(f"no new ERROR failure of {', '.join(DRIFT_CHECKS)} after evaluation {last_id}")
    newest = failures[-1][1]
    checks = sorted({name for name, _ in failures})
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
    return dg.SensorResult(
        run_requests=[retrain_request(constants.DEFAULT_DEMO_SERVICE, checks, newest)],
        cursor=json.dumps({"last_id": newest, "last_launch": now}),
    )
