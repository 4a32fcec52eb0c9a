"""What runs by itself under the Dagster daemon, besides the retraining sensor (``sensors.py``).

* ``monitor_windows``: a schedule on the monitoring windows' own cron. As each window closes it requests the
  drift_report of that window for every service that had traffic in it (run key ``monitor-<service>-<window>``,
  so a window is judged once); a window without traffic is skipped, saying so.
* ``ingest_new_months``: a sensor on the trip source. A month newer than the newest one a service has in the
  lake is ingested as soon as it appears: a new file in ``TAXI_TRIPS_DIR`` (a replaced file is ingested again),
  or the next month published by the TLC (asked at most once an hour). A service with nothing in the lake is
  left alone: its first months are chosen by ``make train``.
* ``freshness_retrain``: a schedule (off unless ``TAXI_FRESHNESS_RETRAIN`` is set, or switched on in the UI)
  that trains a challenger on the newest ``TAXI_RETRAIN_MONTHS`` months in the lake of every service with a
  champion; the same promotion rules decide on it.
* ``judge_live_rollouts``: a sensor that, while a service's challenger is in a live stage (shadow, A/B or the
  guardrail), requests its ``online_evaluation`` when a decision can be due: at the sequential test's looks
  (its minimum of labels, then each quarter more; run key ``rollout-<service>-v<version>-<stage>-<start>-<look>``)
  and once more when the stage's time is up.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Final

import dagster as dg

from taxi_assets import constants, run_tags
from taxi_assets.errors import SourceUnavailableError
from taxi_assets.jobs import rollout_job
from taxi_assets.model.versions import CHAMPION, model_name
from taxi_assets.partitions import MonitoringWindows, month_service_key
from taxi_assets.platform_db.prediction_log import log_activity
from taxi_assets.registry.live_evidence import labels_since
from taxi_assets.registry.stages import current_stage
from taxi_assets.resources import (
    DataLake,
    MlflowResource,
    PlatformDatabase,
    RetrainingPolicy,
    RolloutPolicy,
    TripSource,
)


def build_monitor_schedule(windows: MonitoringWindows) -> dg.ScheduleDefinition:
    """The schedule that judges each window of ``windows`` as it closes."""

    @dg.schedule(
        name="monitor_windows",
        cron_schedule=windows.cron,
        execution_timezone="UTC",
        job_name="monitor_job",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Judge each {windows.minutes}-minute window of the prediction log as it closes, for every "
        "service that had traffic in it.",
    )
    def monitor_windows(
        context: dg.ScheduleEvaluationContext, platform_db: PlatformDatabase
    ) -> list[dg.RunRequest] | dg.SkipReason:
        tick = context.scheduled_execution_time or datetime.now(UTC)
        window = windows.closed_before(tick)
        start, end = windows.bounds(window)
        active = log_activity(platform_db.url, start, end).rows
        services = [service for service in constants.SERVICES if active.get(service)]
        if not services:
            return dg.SkipReason(f"no traffic in window {window} (UTC): nothing to judge")
        return [
            dg.RunRequest(
                run_key=f"monitor-{service}-{window}",
                partition_key=str(windows.key(window, service)),
                tags={
                    run_tags.TRIGGER: "window_closed",
                    run_tags.WINDOW: window,
                    run_tags.REQUESTS: str(active[service]),
                },
            )
            for service in services
        ]

    return monitor_windows


@dg.sensor(
    name="ingest_new_months",
    job_name="ingest_job",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Ingest each TLC month newer than a service's newest month in the lake as soon as the trip source "
    "has it (a new file in TAXI_TRIPS_DIR, or the TLC's next month, asked hourly).",
)
def ingest_new_months(
    context: dg.SensorEvaluationContext, lake: DataLake, trip_source: TripSource
) -> dg.SensorResult | dg.SkipReason:
    """One ingest run per new month (run key per month and file version: a replaced file is ingested again)."""
    asked: dict[str, float] = json.loads(context.cursor) if context.cursor else {}
    requests, notes = [], []
    now = time.time()
    for service in constants.SERVICES:
        ingested = lake.ingested_months(service)
        if not ingested:
            notes.append(f"{service}: nothing in the lake yet")
            continue
        if now - asked.get(service, 0.0) < trip_source.probe_interval_seconds:
            notes.append(f"{service}: the source was asked {now - asked[service]:.0f} s ago")
            continue
        try:
            newer = trip_source.newer_months(service, ingested[-1])
        except SourceUnavailableError as error:
            notes.append(f"{service}: the source did not answer ({error})")
            continue
        asked[service] = now
        if not newer:
            notes.append(f"{service}: newest in the lake {ingested[-1]}, nothing newer published")
        requests += [
            dg.RunRequest(
                run_key=f"new-month-{service}-{month}-{version}",
                partition_key=str(month_service_key(month, service)),
                tags={run_tags.TRIGGER: "new_month", run_tags.SOURCE_VERSION: version},
            )
            for month, version in sorted(newer.items())
        ]
    return dg.SensorResult(
        run_requests=requests,
        cursor=json.dumps(asked, sort_keys=True),
        skip_reason=None if requests else dg.SkipReason("; ".join(notes)),
    )


def build_freshness_schedule(cron: str, enabled: bool) -> dg.ScheduleDefinition:
    """The freshness retraining on ``cron`` (UTC), running from the start only when ``enabled``."""

    @dg.schedule(
        name="freshness_retrain",
        cron_schedule=cron,
        execution_timezone="UTC",
        job_name="train_job",
        default_status=dg.DefaultScheduleStatus.RUNNING if enabled else dg.DefaultScheduleStatus.STOPPED,
        description="Train a challenger on the newest months in the lake of every service with a champion; the "
        "promotion rules decide on it like on any other.",
    )
    def freshness_retrain(
        context: dg.ScheduleEvaluationContext, lake: DataLake, mlflow: MlflowResource, retraining: RetrainingPolicy
    ) -> list[dg.RunRequest] | dg.SkipReason:
        tick = (context.scheduled_execution_time or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M")
        registry = mlflow.registry()
        requests = []
        for service in constants.SERVICES:
            months = lake.ingested_months(service)[-retraining.months :]
            if months and registry.alias(model_name(service), CHAMPION) is not None:
                requests.append(
                    dg.RunRequest(
                        run_key=f"freshness-{service}-{tick}",
                        partition_key=service,
                        run_config={"ops": {"training_set": {"config": {"months": months}}}},
                        tags={run_tags.TRIGGER: "freshness", run_tags.MONTHS: ",".join(months)},
                    )
                )
        return requests or dg.SkipReason("no service has both a champion and months in the lake")

    return freshness_retrain


# how often the daemon looks for matured labels of a challenger in a live stage
ROLLOUT_SENSOR_INTERVAL_SECONDS: Final = 60


@dg.sensor(
    name="judge_live_rollouts",
    job=rollout_job,
    minimum_interval_seconds=ROLLOUT_SENSOR_INTERVAL_SECONDS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="While a challenger is in shadow, A/B or the guardrail, judge it when a decision can be due: at "
    "its test's minimum of matured labels, each quarter more, and once more when its stage's time is up.",
)
def judge_live_rollouts(
    context: dg.SensorEvaluationContext, mlflow: MlflowResource, platform_db: PlatformDatabase, rollout: RolloutPolicy
) -> list[dg.RunRequest] | dg.SkipReason:
    """One online_evaluation request per service whose challenger is in a live stage and has a decision due.

    A decision can be due at the test's next look (its minimum of labels, then each quarter more) or once the
    stage's time is up; between them the run queue is left to monitoring.
    """
    registry, requests, waiting = mlflow.registry(), [], []
    for service in constants.SERVICES:
        stage = current_stage(registry, model_name(service))
        if stage is None:
            continue
        plan = rollout.plan(service)
        labels = labels_since(platform_db.url, service, stage.started_at)
        look = plan.rule(stage.name).look(labels)
        expired = (datetime.now(UTC) - stage.started_at).total_seconds() / 3600 >= plan.max_hours
        if look is None and not expired:
            waiting.append(
                f"{service} v{stage.version} in {stage.name}: {labels} of {plan.rule(stage.name).min_labels} labels"
            )
            continue
        started, ending = stage.started_at.strftime("%Y%m%dT%H%M%S"), "-expired" if expired else ""
        requests.append(
            dg.RunRequest(
                run_key=f"rollout-{service}-v{stage.version}-{stage.name}-{started}-{look or 0}{ending}",
                partition_key=service,
                tags={run_tags.TRIGGER: "labels_matured", run_tags.STAGE: stage.name, run_tags.LABELS: str(labels)},
            )
        )
    if waiting:
        return requests or dg.SkipReason(f"no decision can be due yet: {'; '.join(waiting)}")
    return requests or dg.SkipReason("no challenger is in a live stage (shadow, A/B or the guardrail)")
