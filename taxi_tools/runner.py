"""Runs the code location's jobs in-process against a Dagster instance, and prints what they did.

Every run lands in the instance it is given (the CLI's: ``DAGSTER_HOME``, by default in the data home), so the
commands' runs show up in ``dagster dev``.
"""

import logging
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from taxi_assets.definitions import build_defs, lake_from_env
from taxi_assets.lake_storage import MANIFEST
from taxi_assets.partitions import month_service_key

SHOWN_METADATA = (
    "rows_in",
    "rows_valid",
    "rows_quarantined",
    "quarantine_by_rule",
    "rows_out",
    "outliers_by_rule",
    "rows_train",
    "rows_test",
    "bins_per_feature",
    "model_version",
    "rmse",
    "mae",
    "r2",
    "mape",
    "parity_max_abs_diff",
    "decision",
    "reason",
    "champion_version_after",
    "path",
    "profile_path",
)
# Dagster's step-by-step log stays in the run's record (dagster dev); this runner prints each failed step and
# check itself, and the platform's alerts reach the terminal through the CLI's own readable log.
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


class _StepProgress(logging.Handler):
    """Prints each step of an in-process run as it starts and as it ends, so a long run is never silent."""

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None)
        event = meta.get("dagster_event") if isinstance(meta, dict) else None
        if event is None or event.step_key is None:
            return
        if event.event_type == dg.DagsterEventType.STEP_START:
            print(f"  {event.step_key} ...", flush=True)
        elif event.event_type == dg.DagsterEventType.STEP_SUCCESS:
            seconds = event.event_specific_data.duration_ms / 1000
            print(f"  {event.step_key} done in {seconds:.1f} s", flush=True)


@dg.logger(config_schema={}, description="The CLI's progress: each step as it starts and ends.")
def step_progress(init_context: dg.InitLoggerContext) -> logging.Logger:
    """A logger that only prints step starts and ends (Dagster's step events are DEBUG records)."""
    logger = logging.Logger("progress", level=logging.DEBUG)
    logger.addHandler(_StepProgress())
    return logger


class CommandFailedError(Exception):
    """A command could not finish; the message says what failed (a job's step errors are printed before)."""


class Runner:
    """Runs the code location's jobs in-process and prints what they materialized."""

    def __init__(self, env: Mapping[str, str], instance: dg.DagsterInstance) -> None:
        self.env = env
        self.defs = build_defs(env)
        self.instance = instance
        self.lake = lake_from_env(env)
        self.checks: dict[str, dg.AssetCheckEvaluation] = {}

    def run(
        self,
        job: str,
        partition: str | None = None,
        ops: dict[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Run a job; return each materialized asset's metadata. Raises CommandFailedError on a failed step."""
        print(f"\n== {job}{f' [{partition}]' if partition else ''}", flush=True)
        job_def = self.defs.resolve_job_def(job)
        job_def = job_def.with_logger_defs({**job_def.loggers, "progress": step_progress})
        loggers = {**QUIET_CONSOLE["loggers"], "progress": {}}
        result = job_def.execute_in_process(
            instance=self.instance,
            partition_key=partition,
            run_config={"loggers": loggers, **({"ops": ops} if ops else {})},
            tags=dict(tags or {}),
            raise_on_error=False,
        )
        if not result.success:
            for event in result.get_step_failure_events():
                error = event.step_failure_data.error
                print(f"error in {event.step_key}: {error.message.strip() if error else 'failed'}", file=sys.stderr)
            for evaluation in result.get_asset_check_evaluations():
                if not evaluation.passed:
                    values = {key: value.value for key, value in evaluation.metadata.items()}
                    print(f"  check {evaluation.check_name} FAILED: {values}", file=sys.stderr)
            raise CommandFailedError(f"{job}{f' [{partition}]' if partition else ''} failed (its errors are above)")
        materialized: dict[str, dict[str, Any]] = {}
        for event in result.get_asset_materialization_events():
            materialization = event.step_materialization_data.materialization
            metadata = {key: value.value for key, value in materialization.metadata.items()}
            materialized[materialization.asset_key.to_user_string()] = metadata
            print(f"  {materialization.asset_key.to_user_string()}")
            for key in SHOWN_METADATA:
                if key in metadata:
                    print(f"    {key}: {metadata[key]}")
        self.checks = {}
        for evaluation in result.get_asset_check_evaluations():
            self.checks[evaluation.check_name] = evaluation
            outcome = "passed" if evaluation.passed else f"FAILED ({evaluation.severity.value})"
            print(f"  check {evaluation.check_name}: {outcome}{check_numbers(evaluation)}")
        return materialized

    def ingest(self, service: str, months: Sequence[str], refresh: bool) -> None:
        """Zones once, then raw -> features for each month not yet in the lake (or every month with refresh)."""
        if refresh or not self.lake.zones().exists():
            self.run("zones_job")
        for month in months:
            if refresh or not (self.lake.features(service, month) / MANIFEST).is_file():
                self.run("ingest_job", str(month_service_key(month, service)))
            else:
                print(f"\n== ingest_job [{month}|{service}]: already in the lake (--refresh to redo)")

    def train(self, service: str, months: Sequence[str], holdout_months: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Split the window, train and register a challenger, decide on promotion."""
        ops = {
            "training_set": {"config": {"months": list(months)}},
            "promotion_decision": {"config": {"holdout_months": list(holdout_months)}},
        }
        return self.run("train_job", service, ops)


def check_numbers(evaluation: dg.AssetCheckEvaluation) -> str:
    """The value and threshold a check saw, when it has them (drift_report's checks)."""
    metadata: dict[str, Any] = {key: value.value for key, value in evaluation.metadata.items()}
    shown = []
    if "statistic" in metadata and isinstance(metadata.get("value"), int | float):
        metadata[str(metadata["statistic"])] = metadata["value"]
    for key in (str(metadata.get("statistic", "")), "psi", "rate", "count"):
        if isinstance(metadata.get(key), int | float) and isinstance(metadata.get("threshold"), int | float):
            shown.append(f"{key} {float(metadata[key]):.3f} vs threshold {float(metadata['threshold']):.3f}")
    if metadata.get("degraded_segments"):
        shown.append(f"degraded segments: {', '.join(metadata['degraded_segments'])}")
    if metadata.get("drifted_features"):
        shown.append(f"drifted: {', '.join(metadata['drifted_features'])}")
    if metadata.get("note"):
        shown.append(str(metadata["note"]))
    return f" - {'; '.join(shown)}" if shown else ""
