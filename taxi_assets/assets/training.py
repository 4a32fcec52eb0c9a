"""Training: the Spark GBT challenger, tracked and registered in MLflow, exported to ONNX and checked."""

import os
import shutil
import subprocess
import time
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from taxi_assets import constants
from taxi_assets.alerting import Kind, Severity
from taxi_assets.assets.common import failing_clearly
from taxi_assets.assets.features import training_set
from taxi_assets.assets.monitoring import reference_profile
from taxi_assets.errors import MissingInputError
from taxi_assets.features.split import SPLIT, TEST, TRAIN
from taxi_assets.lake_storage import read_committed
from taxi_assets.model.checks import BEHAVIOUR_CHECK, PARITY_CHECK
from taxi_assets.model.profile import PROFILE_FILE, ReferenceProfile
from taxi_assets.partitions import service_partitions
from taxi_assets.resources import AlertsResource, DataLake, MlflowResource, RetrainingPolicy, SparkResource
from taxi_assets.training.challenger import Challenger, Registered, fit_and_export, register_challenger
from taxi_assets.training.pipeline import GbtParams

CODE_VERSION = "1"


class ChallengerConfig(dg.Config):
    """Hyperparameters and seed of the GBT, and the tolerances of its checks."""

    max_iter: int = Field(default=constants.GBT_MAX_ITER, description="Boosting iterations (trees).")
    max_depth: int = Field(default=constants.GBT_MAX_DEPTH, description="Depth of each tree.")
    step_size: float = Field(default=constants.GBT_STEP_SIZE, description="Learning rate (tree weight).")
    subsampling_rate: float = Field(
        default=constants.GBT_SUBSAMPLING_RATE, description="Share of training rows each tree sees."
    )
    max_bins: int = Field(default=constants.GBT_MAX_BINS, description="Bins for continuous splits.")
    min_instances_per_node: int = Field(
        default=constants.GBT_MIN_INSTANCES_PER_NODE, description="Fewest training rows a tree leaf may hold."
    )
    seed: int = Field(default=constants.GBT_SEED, description="Seed of the row subsampling.")
    parity_tolerance_usd: float = Field(
        default=constants.PARITY_TOLERANCE_USD, description="Largest allowed |ONNX - Spark| on the test split."
    )
    monotonic_tolerance_usd: float = Field(
        default=constants.MONOTONIC_TOLERANCE_USD,
        description="Largest allowed fall in predicted fare between longer probe trips.",
    )

    def params(self) -> GbtParams:
        """The GBT parameters as the pure training code takes them."""
        return GbtParams(
            max_iter=self.max_iter,
            max_depth=self.max_depth,
            step_size=self.step_size,
            subsampling_rate=self.subsampling_rate,
            max_bins=self.max_bins,
            min_instances_per_node=self.min_instances_per_node,
            seed=self.seed,
        )


def code_version() -> str:
    """Package version plus the git commit: the checkout's, or the one an image was built from (TAXI_CODE_COMMIT)."""
    if built := os.environ.get("TAXI_CODE_COMMIT"):
        return f"{package_version('taxi-fare-platform')}+{built}"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    return f"{package_version('taxi-fare-platform')}+{commit}"


@dg.asset(
    partitions_def=service_partitions,
    deps=[training_set, reference_profile],
    group_name=constants.TRAINING_GROUP,
    kinds={"spark", "mlflow", "onnx"},
    code_version=CODE_VERSION,
    check_specs=[
        dg.AssetCheckSpec(
            PARITY_CHECK,
            asset="challenger_model",
            blocking=True,
            description="ONNX predictions equal Spark's on the whole test split; finite and non-negative.",
        ),
        dg.AssetCheckSpec(
            BEHAVIOUR_CHECK,
            asset="challenger_model",
            blocking=True,
            description="Fare does not fall with distance on standard-rate Manhattan probes; scoring is repeatable.",
        ),
    ],
)
def challenger_model(
    context: dg.AssetExecutionContext,
    config: ChallengerConfig,
    pyspark: SparkResource,
    lake: DataLake,
    mlflow: MlflowResource,
    alerts: AlertsResource,
    retraining: RetrainingPolicy,
) -> dg.MaterializeResult:
    """A Spark GBT pipeline trained on the train split and evaluated on its test split.

    Exported to ONNX, logged to MLflow and registered as a new version of ``taxi-fare-<service>``, with the alias
    ``challenger`` when both blocking checks pass. When one fails, the version is kept but never served, and an
    alert names the check, by how much it failed and when the retraining sensor may try again.
    """
    service, dagster_run_id, spark = context.partition_key, context.run.run_id, pyspark.spark_session
    work = lake.model_dir(service, dagster_run_id)
    with failing_clearly():
        manifest, data = read_committed(lake.training_set(service), f"training_set {service}")
        _require_profile_of(lake, service, manifest["train_hash"])
        train, test = spark.read.parquet((data / f"{SPLIT}={TRAIN}").spark_uri), data / f"{SPLIT}={TEST}"
    # the export and MLflow's artifact logging read local files: on an object-store lake, a local scratch copy
    local = work.local_path or lake.local_scratch() / "models" / service / dagster_run_id
    tolerances = (config.parity_tolerance_usd, config.monotonic_tolerance_usd)
    # probes in the newest TLC month of the window: a month the model has plenty of rows for
    challenger = fit_and_export(spark, train, test, config.params(), work, local, max(manifest["months"]), tolerances)
    lineage = {"service": service, "dagster_run_id": dagster_run_id, "code_version": code_version()}
    profile_file = lake.profile_dir(service).as_local(local) / PROFILE_FILE
    run_name = f"{context.job_name}-{dagster_run_id[:8]}"
    registered = register_challenger(
        mlflow.registry(), challenger, config.params(), manifest, lineage, run_name, profile_file
    )
    if work.local_path is None:
        shutil.rmtree(local, ignore_errors=True)
    failures = challenger.check_failures()
    next_step = _report_failures(context, registered, failures, alerts, retraining) if failures else ""
    return _challenger_result(challenger, registered, manifest, failures, next_step)


def _report_failures(
    context: dg.AssetExecutionContext,
    registered: Registered,
    failures: dict[str, str],
    alerts: AlertsResource,
    retraining: RetrainingPolicy,
) -> str:
    """Log and alert a challenger's failed checks; what the platform does next, in words."""
    record = context.instance.get_run_record_by_id(context.run.run_id)
    launched = record.create_timestamp.timestamp() if record is not None else time.time()
    title, details = failed_checks_alert(registered, failures, context.job_name, launched, retraining)
    context.log.error(title)
    alerts.send(Severity.WARNING, Kind.RETRAIN_FAILED, context.partition_key, title, details)
    return str(details["next"])


def failed_checks_alert(
    registered: Registered, failures: dict[str, str], job_name: str, launched: float, retraining: RetrainingPolicy
) -> tuple[str, dict[str, Any]]:
    """The alert of a challenger that failed a blocking check: which, by how much, and what happens next."""
    said = "; ".join(f"{check}: {reason}" for check, reason in failures.items())
    if job_name == "retrain_job":
        retry_at = datetime.fromtimestamp(launched + retraining.cooldown_seconds, UTC)
        after = (
            f"the retraining sensor may start another from {retry_at:%Y-%m-%d %H:%M} UTC (its cooldown of "
            f"{retraining.cooldown_seconds:.0f} s from this run), when a window's check fails again"
        )
    else:
        retry_at, after = None, "train again with other months or settings (make train)"
    title = (
        f"{registered.name} v{registered.version} failed {', '.join(failures)} and is not the challenger "
        f"(the API never loads it; the champion keeps serving). {said}. Next: {after}."
    )
    details: dict[str, Any] = {
        "model_version": registered.version,
        "mlflow_run_id": registered.run_id,
        "failed_checks": ",".join(failures),
        **{f"check.{check}": reason for check, reason in failures.items()},
        "next": after,
    }
    if retry_at is not None:
        details["retry_not_before"] = retry_at.isoformat(timespec="seconds")
    return title, details


def _require_profile_of(lake: DataLake, service: str, train_hash: str) -> None:
    profile_path = lake.profile_dir(service) / PROFILE_FILE
    if not profile_path.is_file():
        raise MissingInputError(f"reference_profile {service} is not materialized; materialize it first")
    if ReferenceProfile.from_json(profile_path.read_text()).training_set_hash != train_hash:
        raise MissingInputError(f"reference_profile {service} was fitted on another training set; materialize it again")


def _challenger_result(
    challenger: Challenger,
    registered: Registered,
    manifest: dict[str, Any],
    failures: dict[str, str],
    next_step: str,
) -> dg.MaterializeResult:
    metrics, parity, probe = challenger.metrics, challenger.parity, challenger.probe

    def why(check: str) -> dict[str, str]:
        """A failed check's reason in words and what the platform does next (nothing for a passed one)."""
        return {"failed_because": failures[check], "next": next_step} if check in failures else {}

    return dg.MaterializeResult(
        metadata={
            "model_name": registered.name,
            "model_version": registered.version,
            "mlflow_run_id": registered.run_id,
            "rmse": metrics.rmse,
            "mae": metrics.mae,
            "r2": metrics.r2,
            "mape": metrics.mape,
            "bias": metrics.bias,
            "rmse_by_pickup_borough": dg.MetadataValue.json(challenger.rmse_by_borough),
            "rows_train": manifest["rows_train"],
            "rows_test": metrics.rows,
            "training_months": dg.MetadataValue.json(manifest["months"]),
            "train_seconds": round(challenger.train_seconds, 2),
            "parity_max_abs_diff": parity.max_abs_diff_usd,
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=PARITY_CHECK,
                passed=parity.passed,
                metadata={
                    "max_abs_diff_usd": parity.max_abs_diff_usd,
                    "tolerance_usd": parity.tolerance_usd,
                    "rows": parity.rows,
                    "min_prediction": parity.min_prediction,
                    "all_finite": parity.all_finite,
                    "floored_rows": parity.floored_rows,
                    "explain_max_abs_diff_usd": parity.explain_max_abs_diff_usd,
                    **why(PARITY_CHECK),
                },
            ),
            dg.AssetCheckResult(
                check_name=BEHAVIOUR_CHECK,
                passed=challenger.behaviour_passed,
                metadata={
                    "largest_drop_usd": probe.largest_drop_usd,
                    "tolerance_usd": challenger.behaviour_tolerance_usd,
                    "deterministic": probe.deterministic,
                    "probe_predictions": dg.MetadataValue.json(probe.predictions),
                    **why(BEHAVIOUR_CHECK),
                },
            ),
        ],
    )
