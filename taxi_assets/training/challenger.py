"""The challenger's training sequence without Dagster: fit, export, check, and register it in MLflow.

``fit_and_export`` trains the Spark GBT on the train split, scores the test split with Spark and with the ONNX
export, and writes next to the export what monitoring needs later (the prediction profile and the holdout
errors). ``register_challenger`` logs the run and registers the version with its lineage and check results, and
points the ``challenger`` alias at it when both blocking checks passed (a version that failed one is kept, never
served). The ``challenger_model`` asset calls both and reports what they return.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame as SparkFrame
from pyspark.sql import SparkSession

from taxi_assets import constants
from taxi_assets.features.columns import TARGET, TRIP_ID
from taxi_assets.features.schema import read_feature_table
from taxi_assets.lake_storage import LakeLocation
from taxi_assets.model.card import card_facts, importance
from taxi_assets.model.checks import BEHAVIOUR_CHECK, PARITY_CHECK
from taxi_assets.model.evaluation import RegressionMetrics, regression_metrics, rmse_by_segment
from taxi_assets.model.explain import EXPLAIN_FILE, EXPLAIN_TOLERANCE_USD, FareExplainer
from taxi_assets.model.fare_model import FareModel
from taxi_assets.model.holdout import HOLDOUT_ERRORS_FILE, holdout_errors
from taxi_assets.model.probes import BehaviourResult, behaviour
from taxi_assets.model.profile import numeric_profile
from taxi_assets.model.pyfunc import PREDICTION_PROFILE_FILE, serving_example
from taxi_assets.model.spec import FARE_FLOOR_USD
from taxi_assets.model.versions import CHALLENGER, ModelRegistry, experiment_name, model_name
from taxi_assets.training.export import export_pipeline
from taxi_assets.training.pipeline import PREDICTION, GbtParams, fit_pipeline


@dataclass(frozen=True)
class Parity:
    """How closely the ONNX export reproduces Spark on the test split, and whether its output is a fare."""

    max_abs_diff_usd: float
    tolerance_usd: float
    rows: int
    min_prediction: float
    all_finite: bool
    floored_rows: int = 0  # test rows whose sum of trees was below the fare floor (priced at the floor)
    # the trees exported for explanations against the ONNX file, on the same rows: they must price them alike
    explain_max_abs_diff_usd: float = 0.0

    @property
    def passed(self) -> bool:
        """Within the tolerance on every row, finite, never negative, and the explanations' trees agreeing."""
        explained = self.explain_max_abs_diff_usd <= EXPLAIN_TOLERANCE_USD
        return bool(
            self.max_abs_diff_usd <= self.tolerance_usd and self.all_finite and self.min_prediction >= 0 and explained
        )


def parity(
    onnx_pred: np.ndarray,
    spark_pred: np.ndarray,
    tolerance_usd: float,
    floored_rows: int = 0,
    explain_pred: np.ndarray | None = None,
) -> Parity:
    """Compare the export's predictions with Spark's, and the explanations' trees' with the export's.

    On the same rows; NaN everywhere when there are none.
    """
    if len(onnx_pred) == 0:
        return Parity(float("nan"), tolerance_usd, 0, float("nan"), True)
    explained = 0.0 if explain_pred is None else float(np.max(np.abs(explain_pred - onnx_pred)))
    return Parity(
        max_abs_diff_usd=float(np.max(np.abs(onnx_pred - spark_pred))),
        tolerance_usd=tolerance_usd,
        rows=len(onnx_pred),
        min_prediction=float(onnx_pred.min()),
        all_finite=bool(np.isfinite(onnx_pred).all()),
        floored_rows=floored_rows,
        explain_max_abs_diff_usd=explained if np.isfinite(explained) else float("inf"),
    )


@dataclass(frozen=True)
class Challenger:
    """A trained and exported challenger with its holdout metrics and the results of its two checks."""

    metrics: RegressionMetrics
    rmse_by_borough: dict[str, float]
    train_seconds: float
    parity: Parity
    probe: BehaviourResult
    behaviour_tolerance_usd: float
    test: pd.DataFrame
    spark_model: Path
    serving_dir: Path

    @property
    def behaviour_passed(self) -> bool:
        """Fare never falls with distance beyond the tolerance, and scoring is repeatable."""
        return self.probe.passed(self.behaviour_tolerance_usd)

    def check_failures(self) -> dict[str, str]:
        """Each failed blocking check with what failed, by how much, in words (empty when both passed)."""
        failures: dict[str, str] = {}
        parity, probe = self.parity, self.probe
        if not parity.passed:
            reasons = []
            if not parity.all_finite:
                reasons.append("a prediction that is not a finite number")
            if parity.min_prediction < 0:
                reasons.append(f"min_prediction {parity.min_prediction:.2f} USD (must be at least 0)")
            if parity.max_abs_diff_usd > parity.tolerance_usd:
                reasons.append(
                    f"max |ONNX - Spark| {parity.max_abs_diff_usd:.3g} USD over {parity.rows:,} test rows "
                    f"(tolerance {parity.tolerance_usd:.3g})"
                )
            if parity.explain_max_abs_diff_usd > EXPLAIN_TOLERANCE_USD:
                away = parity.explain_max_abs_diff_usd
                reasons.append(
                    f"the trees for explanations price {parity.rows:,} test rows up to {away:.3g} USD away from "
                    f"the ONNX file (tolerance {EXPLAIN_TOLERANCE_USD:g})"
                )
            failures[PARITY_CHECK] = "; ".join(reasons) or "failed"
        if not self.behaviour_passed:
            reasons = []
            if not probe.deterministic:
                reasons.append("two scorings of the same probes differ")
            if probe.largest_drop_usd > self.behaviour_tolerance_usd:
                reasons.append(
                    f"the fare falls by {probe.largest_drop_usd:.2f} USD between longer probe trips "
                    f"(tolerance {self.behaviour_tolerance_usd:.2f})"
                )
            failures[BEHAVIOUR_CHECK] = "; ".join(reasons) or "failed"
        return failures


def fit_and_export(
    spark: SparkSession,
    train: SparkFrame,
    test_path: LakeLocation,
    params: GbtParams,
    work: LakeLocation,
    local: Path,
    probe_month: str,
    tolerances: tuple[float, float],
) -> Challenger:
    """Fit on ``train``, save to ``work``, export to ``local/serving`` and check it on the test split.

    ``local`` is a local folder (the export and MLflow read local files; on an object-store lake it is a scratch
    copy). ``tolerances`` are the parity tolerance and the monotonic tolerance in USD; the probes price trips in
    ``probe_month``.
    """
    started = time.perf_counter()
    model = fit_pipeline(train, params)
    train_seconds = time.perf_counter() - started
    model.write().overwrite().save((work / "spark_model").spark_uri)
    scored = model.transform(spark.read.parquet(test_path.spark_uri)).select(TRIP_ID, PREDICTION).toPandas()
    test = read_feature_table(test_path)
    spark_raw = scored.set_index(TRIP_ID).loc[test[TRIP_ID], PREDICTION].to_numpy()
    # floored as the export floors it, so metrics, parity and the served fares are of the same model
    spark_pred = np.maximum(spark_raw, FARE_FLOOR_USD)
    spark_model = (work / "spark_model").as_local(local)
    serving_dir = local / "serving"
    export_pipeline(spark_model, serving_dir)
    artifact = FareModel.load(serving_dir)
    onnx_pred = artifact.predict(test)
    explain_pred = FareExplainer.from_json((serving_dir / EXPLAIN_FILE).read_text()).predict(artifact.encode(test))
    # the reference for prediction drift: this model's predictions on its own holdout, in quantile bins
    profile = numeric_profile(onnx_pred, constants.REFERENCE_BINS)
    (serving_dir / PREDICTION_PROFILE_FILE).write_text(json.dumps(asdict(profile)))
    # what live accuracy is calibrated against: this model's errors on its holdout, with their segments
    holdout_errors(test, test[TARGET].to_numpy(), onnx_pred).to_parquet(serving_dir / HOLDOUT_ERRORS_FILE)
    probe = behaviour(artifact, probe_month)
    return Challenger(
        metrics=regression_metrics(test[TARGET].to_numpy(), spark_pred),
        rmse_by_borough=rmse_by_segment(test[TARGET].to_numpy(), spark_pred, test["pickup_borough"]),
        train_seconds=train_seconds,
        parity=parity(
            onnx_pred, spark_pred, tolerances[0], int((spark_raw < FARE_FLOOR_USD).sum()), explain_pred=explain_pred
        ),
        probe=probe,
        behaviour_tolerance_usd=tolerances[1],
        test=test,
        spark_model=spark_model,
        serving_dir=serving_dir,
    )


@dataclass(frozen=True)
class Registered:
    """Where a challenger went in MLflow."""

    name: str
    version: str
    run_id: str


def register_challenger(
    registry: ModelRegistry,
    challenger: Challenger,
    params: GbtParams,
    manifest: dict[str, Any],
    lineage: dict[str, str],
    run_name: str,
    profile_file: Path,
) -> Registered:
    """Log the run (params, metrics, lineage, the model) and register it; the service's ``challenger`` if it passed.

    ``lineage`` names the service, the Dagster run and the code version; it tags the run and the version. The
    version is also tagged with both checks' results and the holdout metrics.
    """
    service = lineage["service"]
    lineage = lineage | {
        "training_months": ",".join(manifest["months"]),
        "train_hash": manifest["train_hash"],
        "test_hash": manifest["test_hash"],
    }
    name = model_name(service)
    tags = {"dagster.run_id": lineage["dagster_run_id"], **lineage}
    with registry.run(experiment_name(service), run_name, tags=tags) as run_id:
        registry.log_params(
            {**params.as_dict(), "split_seed": manifest["seed"], "test_fraction": manifest["test_fraction"]}
            | {f"input_hash_{month}": digest[:16] for month, digest in manifest["input_hashes"].items()}
        )
        registry.log_metrics(_logged_metrics(challenger))
        registry.log_dict({"manifest": manifest, "probe_predictions": challenger.probe.predictions}, "lineage.json")
        model_uri = registry.log_fare_model(
            challenger.serving_dir, challenger.spark_model, serving_example(challenger.test), profile_file
        )
        version = registry.register(model_uri, name, run_id, tags=lineage)
    registry.tag_version(
        name,
        version,
        {
            f"check.{PARITY_CHECK}": "passed" if challenger.parity.passed else "failed",
            f"check.{BEHAVIOUR_CHECK}": "passed" if challenger.behaviour_passed else "failed",
            "metrics": challenger.metrics.as_dict(),
        },
    )
    identity = {"model": name, "version": version, "service": service, "run_id": run_id}
    registry.write_card(name, version, challenger_card(challenger, identity, params, manifest))
    if challenger.parity.passed and challenger.behaviour_passed:
        # only a version that passed both blocking checks becomes the challenger the API and the rollout see
        registry.set_alias(name, CHALLENGER, version)
    return Registered(name, version, run_id)


def challenger_card(
    challenger: Challenger, identity: dict[str, str], params: GbtParams, manifest: dict[str, Any]
) -> dict[str, Any]:
    """The facts of a new version's model card: its holdout metrics per segment and what drives its fares."""
    artifact = FareModel.load(challenger.serving_dir)
    explained = challenger.serving_dir / EXPLAIN_FILE
    encoded = artifact.encode(challenger.test)
    drivers = (
        importance(FareExplainer.from_json(explained.read_text()), encoded, list(artifact.spec.columns))
        if explained.is_file()
        else None
    )
    checks = {
        PARITY_CHECK: "passed" if challenger.parity.passed else "failed",
        BEHAVIOUR_CHECK: "passed" if challenger.behaviour_passed else "failed",
    }
    extra = {"params": params.as_dict(), "checks": checks, "features": artifact.spec.columns, "importance": drivers}
    actual = challenger.test[TARGET].to_numpy()
    return card_facts(identity, manifest, challenger.test, actual, artifact.predict(challenger.test), extra)


def _logged_metrics(challenger: Challenger) -> dict[str, float]:
    return {
        **{key: value for key, value in challenger.metrics.as_dict().items() if np.isfinite(value)},
        **{f"rmse_{b.replace(' ', '_')}": v for b, v in challenger.rmse_by_borough.items()},
        "train_seconds": challenger.train_seconds,
        "parity_max_abs_diff": challenger.parity.max_abs_diff_usd,
        "behaviour_largest_drop_usd": challenger.probe.largest_drop_usd,
    }
