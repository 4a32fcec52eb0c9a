"""Training: the Spark GBT challenger, tracked and registered in MLflow, exported to ONNX and checked."""

import json
import shutil
import subprocess
import time
from dataclasses import asdict
from importlib.metadata import version as package_version
from pathlib import Path

import dagster as dg
import numpy as np
from pydantic import Field

from taxi_assets import constants
from taxi_assets.assets.common import failing_clearly
from taxi_assets.assets.features import training_set
from taxi_assets.assets.monitoring import reference_profile
from taxi_assets.drift.accuracy import HOLDOUT_ERRORS_FILE, holdout_errors
from taxi_assets.drift.profile import PROFILE_FILE, ReferenceProfile, numeric_profile
from taxi_assets.lakefs import read_committed
from taxi_assets.lifecycle.registry import CHALLENGER, experiment_name, model_name
from taxi_assets.modeling.errors import MissingInputError
from taxi_assets.modeling.evaluation import regression_metrics, rmse_by_segment
from taxi_assets.modeling.export import export_pipeline
from taxi_assets.modeling.feature_schema import read_feature_table
from taxi_assets.modeling.features import TARGET, TRIP_ID
from taxi_assets.modeling.probes import behaviour
from taxi_assets.modeling.pyfunc import PREDICTION_PROFILE_FILE, serving_example
from taxi_assets.modeling.serving_model import FareModel
from taxi_assets.modeling.split import SPLIT, TEST, TRAIN
from taxi_assets.modeling.training import PREDICTION, GbtParams, fit_pipeline
from taxi_assets.partitions import service_partitions
from taxi_assets.resources import DataLake, MlflowResource, SparkResource

PARITY_CHECK = "serving_artifact_parity"
BEHAVIOUR_CHECK = "fare_behaviour"
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
    """Package version plus the git commit when running from a checkout."""
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
) -> dg.MaterializeResult:
    """A Spark GBT pipeline trained on the train split and evaluated on its test split.

    Exported to ONNX, logged to MLflow and registered as a new version of ``taxi-fare-<service>`` with the
    alias ``challenger``.
    """
    service = context.partition_key
    dagster_run_id = context.run.run_id
    work = lake.model_dir(service, dagster_run_id)
    spark = pyspark.spark_session
    with failing_clearly():
        manifest, data = read_committed(lake.training_set(service), f"training_set {service}")
        profile_path = lake.profile_dir(service) / PROFILE_FILE
        if not profile_path.is_file():
            raise MissingInputError(f"reference_profile {service} is not materialized; materialize it first")
        if ReferenceProfile.from_json(profile_path.read_text()).training_set_hash != manifest["train_hash"]:
            raise MissingInputError(
                f"reference_profile {service} was fitted on another training set; materialize it again"
            )
        train = spark.read.parquet((data / f"{SPLIT}={TRAIN}").spark_uri)
    test_path = data / f"{SPLIT}={TEST}"

    started = time.perf_counter()
    model = fit_pipeline(train, config.params())
    train_seconds = time.perf_counter() - started
    model.write().overwrite().save((work / "spark_model").spark_uri)
    spark_predictions = (
        model.transform(spark.read.parquet(test_path.spark_uri))
        .select(TRIP_ID, PREDICTION)
        .toPandas()
        .set_index(TRIP_ID)
    )
    test = read_feature_table(test_path)
    spark_pred = spark_predictions.loc[test[TRIP_ID], PREDICTION].to_numpy()
    metrics = regression_metrics(test[TARGET].to_numpy(), spark_pred)
    by_borough = rmse_by_segment(test[TARGET].to_numpy(), spark_pred, test["pickup_borough"])

    # the export and MLflow's artifact logging read local files: on an object-store lake, a local scratch copy
    local = work.local_path or lake.local_scratch() / "models" / service / dagster_run_id
    spark_model = (work / "spark_model").as_local(local)
    local_profile = lake.profile_dir(service).as_local(local) / PROFILE_FILE
    export_pipeline(spark_model, local / "serving")
    artifact = FareModel.load(local / "serving")
    onnx_pred = artifact.predict(test)
    parity_diff = float(np.max(np.abs(onnx_pred - spark_pred))) if len(test) else float("nan")
    parity_ok = bool(
        parity_diff <= config.parity_tolerance_usd and np.isfinite(onnx_pred).all() and (onnx_pred >= 0).all()
    )
    # the reference for prediction drift: this model's predictions on its own holdout, in quantile bins
    (local / "serving" / PREDICTION_PROFILE_FILE).write_text(
        json.dumps(asdict(numeric_profile(onnx_pred, constants.REFERENCE_BINS)))
    )
    # what live accuracy is calibrated against: this model's errors on its holdout, with their segments
    holdout_errors(test, test[TARGET].to_numpy(), onnx_pred).to_parquet(local / "serving" / HOLDOUT_ERRORS_FILE)
    # probes in the newest TLC month of the window: a month the model has plenty of rows for
    probe = behaviour(artifact, max(manifest["months"]))
    behaviour_ok = probe.passed(config.monotonic_tolerance_usd)

    registry = mlflow.registry()
    name = model_name(service)
    lineage = {
        "service": service,
        "training_months": ",".join(manifest["months"]),
        "train_hash": manifest["train_hash"],
        "test_hash": manifest["test_hash"],
        "dagster_run_id": dagster_run_id,
        "code_version": code_version(),
    }
    run_name = f"{context.job_name}-{dagster_run_id[:8]}"
    with registry.run(experiment_name(service), run_name, tags={"dagster.run_id": dagster_run_id, **lineage}) as run_id:
        registry.log_params(
            {**config.params().as_dict(), "split_seed": manifest["seed"], "test_fraction": manifest["test_fraction"]}
            | {f"input_hash_{month}": digest[:16] for month, digest in manifest["input_hashes"].items()}
        )
        registry.log_metrics(
            {
                **{key: value for key, value in metrics.as_dict().items() if np.isfinite(value)},
                **{f"rmse_{b.replace(' ', '_')}": v for b, v in by_borough.items()},
                "train_seconds": train_seconds,
                "parity_max_abs_diff": parity_diff,
                "behaviour_largest_drop_usd": probe.largest_drop_usd,
            }
        )
        registry.log_dict({"manifest": manifest, "probe_predictions": probe.predictions}, "lineage.json")
        model_uri = registry.log_fare_model(local / "serving", spark_model, serving_example(test), local_profile)
        version = registry.register(model_uri, name, run_id, tags=lineage)
    registry.tag_version(
        name,
        version,
        {
            f"check.{PARITY_CHECK}": "passed" if parity_ok else "failed",
            f"check.{BEHAVIOUR_CHECK}": "passed" if behaviour_ok else "failed",
            "metrics": metrics.as_dict(),
        },
    )
    registry.set_alias(name, CHALLENGER, version)
    if work.local_path is None:
        shutil.rmtree(local, ignore_errors=True)
    return dg.MaterializeResult(
        metadata={
            "model_name": name,
            "model_version": version,
            "mlflow_run_id": run_id,
            "rmse": metrics.rmse,
            "mae": metrics.mae,
            "r2": metrics.r2,
            "mape": metrics.mape,
            "bias": metrics.bias,
            "rmse_by_pickup_borough": dg.MetadataValue.json(by_borough),
            "rows_train": manifest["rows_train"],
            "rows_test": metrics.rows,
            "training_months": dg.MetadataValue.json(manifest["months"]),
            "train_seconds": round(train_seconds, 2),
            "parity_max_abs_diff": parity_diff,
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=PARITY_CHECK,
                passed=parity_ok,
                metadata={
                    "max_abs_diff_usd": parity_diff,
                    "tolerance_usd": config.parity_tolerance_usd,
                    "rows": len(test),
                    "min_prediction": float(onnx_pred.min()) if len(test) else float("nan"),
                    "all_finite": bool(np.isfinite(onnx_pred).all()),
                },
            ),
            dg.AssetCheckResult(
                check_name=BEHAVIOUR_CHECK,
                passed=behaviour_ok,
                metadata={
                    "largest_drop_usd": probe.largest_drop_usd,
                    "tolerance_usd": config.monotonic_tolerance_usd,
                    "deterministic": probe.deterministic,
                    "probe_predictions": dg.MetadataValue.json(probe.predictions),
                },
            ),
        ],
    )
