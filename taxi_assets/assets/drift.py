"""Monitoring: the drift report of one window of the prediction log, and the checks that judge it."""

import io
import json
from dataclasses import asdict

import dagster as dg
import pandas as pd
from pydantic import Field

from taxi_assets import constants
from taxi_assets.assets.common import failing_clearly
from taxi_assets.drift import checks
from taxi_assets.drift.accuracy import STATISTICS, AccuracyRule, HoldoutCalibration
from taxi_assets.drift.checks import (
    ACCURACY,
    ERROR,
    FEATURE_DRIFT,
    PREDICTION_DRIFT,
    VALIDATION_FAILURES,
    CheckRules,
)
from taxi_assets.drift.profile import PROFILE_FILE, SAMPLE_FILE, ReferenceProfile
from taxi_assets.drift.psi import PSI_THRESHOLD
from taxi_assets.drift.report import DriftReport, Thresholds, compute_drift_report
from taxi_assets.lakefs import write_json_atomic
from taxi_assets.lifecycle.alerts import Kind, Severity
from taxi_assets.lifecycle.prediction_log import read_window
from taxi_assets.lifecycle.registry import CHAMPION, model_name
from taxi_assets.modeling.errors import MissingInputError
from taxi_assets.resources import AlertsResource, DataLake, MlflowResource, PlatformDatabase

daily_windows = dg.DailyPartitionsDefinition(start_date=constants.MONITORING_START, end_offset=1)


class DriftReportConfig(dg.Config):
    """Which model's traffic is judged, and the thresholds of the checks."""

    service: str = Field(default=constants.DEFAULT_DEMO_SERVICE, description="TLC service of the served model.")
    psi_threshold: float = Field(
        default=PSI_THRESHOLD, description="PSI (less its small-sample bias) above which a feature has drifted."
    )
    drift_alpha: float = Field(
        default=constants.DRIFT_ALPHA, description="Significance level a feature's PSI or JS must also pass."
    )
    drifted_features_for_error: int = Field(
        default=constants.FEATURE_DRIFT_ERROR_COUNT, description="Drifted features that make feature_drift an ERROR."
    )
    prediction_psi_threshold: float = Field(default=PSI_THRESHOLD, description="PSI of predictions that fails.")
    max_validation_failure_rate: float = Field(
        default=constants.VALIDATION_FAILURE_RATE_MAX, description="Share of rejected requests that fails."
    )
    min_rows: int = Field(default=constants.MIN_WINDOW_ROWS, description="Rows below which drift is not judged.")
    min_labelled_rows: int = Field(
        default=constants.MIN_LABELLED_ROWS, description="Matured labels below which accuracy is not judged."
    )
    accuracy_statistic: str = Field(
        default=constants.ACCURACY_STATISTIC, description=f"Accuracy statistic judged: one of {', '.join(STATISTICS)}."
    )
    accuracy_alpha: float = Field(
        default=constants.ACCURACY_ALPHA,
        description="Chance of failing a window of unchanged accuracy (the bootstrap quantile's level).",
    )
    accuracy_min_effect_usd: float = Field(
        default=constants.ACCURACY_MIN_EFFECT_USD,
        description="Least loss of accuracy, in dollars of the statistic, that is material.",
    )
    accuracy_min_relative_effect: float = Field(
        default=constants.ACCURACY_MIN_RELATIVE_EFFECT,
        description="Least loss of accuracy that is material, as a share of the holdout's value (the larger applies).",
    )
    min_segment_labels: int = Field(
        default=constants.MIN_SEGMENT_LABELS, description="Labels a segment needs in window and holdout to be judged."
    )
    bootstrap_resamples: int = Field(default=constants.BOOTSTRAP_RESAMPLES, description="Bootstrap windows drawn.")
    bootstrap_seed: int = Field(default=constants.BOOTSTRAP_SEED, description="Seed of the bootstrap.")

    def rules(self) -> CheckRules:
        """The thresholds of the checks, as the pure rules take them."""
        return CheckRules(self.drifted_features_for_error, self.max_validation_failure_rate, self.min_rows)

    def accuracy_rule(self) -> AccuracyRule:
        """How accuracy is calibrated and judged."""
        return AccuracyRule(
            statistic=self.accuracy_statistic,
            alpha=self.accuracy_alpha,
            min_effect=self.accuracy_min_effect_usd,
            min_relative_effect=self.accuracy_min_relative_effect,
            min_labels=self.min_labelled_rows,
            min_segment_labels=self.min_segment_labels,
            resamples=self.bootstrap_resamples,
            seed=self.bootstrap_seed,
        )


def _specs() -> list[dg.AssetCheckSpec]:
    descriptions = {
        FEATURE_DRIFT: "ERROR when enough counted features drift (PSI, or JS for categoricals); WARN for one or two.",
        PREDICTION_DRIFT: "PSI of served predictions against the champion's own holdout predictions.",
        VALIDATION_FAILURES: "Share of requests rejected by validation.",
        ACCURACY: "Accuracy on matured labels against the champion's holdout at the window's label count.",
    }
    return [dg.AssetCheckSpec(name, asset="drift_report", description=text) for name, text in descriptions.items()]


@dg.asset(
    partitions_def=daily_windows,
    group_name=constants.MONITORING_GROUP,
    kinds={"sql", "numpy"},
    check_specs=_specs(),
    code_version="1",
)
def drift_report(
    context: dg.AssetExecutionContext,
    config: DriftReportConfig,
    lake: DataLake,
    mlflow: MlflowResource,
    platform_db: PlatformDatabase,
    alerts: AlertsResource,
) -> dg.MaterializeResult:
    """The prediction log of one day against the champion's reference.

    Drift per feature, prediction drift, validation failures, and accuracy on the labels that have arrived.
    """
    window = context.partition_time_window
    name = model_name(config.service)
    registry = mlflow.registry()
    with failing_clearly():
        version = registry.alias(name, CHAMPION)
        if version is None:
            raise MissingInputError(f"{name} has no champion to monitor; train and promote one first")
        served_model = registry.load_pyfunc(name, version)
        profile = served_model.profile or _lake_profile(lake, config.service)
    # the champion's own reference sample; versions logged before it was carried fall back to the lake's
    sample = served_model.reference_sample
    sample_path = lake.profile_dir(config.service) / SAMPLE_FILE
    if sample is None and sample_path.is_file():
        sample = pd.read_csv(io.BytesIO(sample_path.read_bytes()))
    log = read_window(platform_db.url, window.start, window.end)
    thresholds = Thresholds(
        psi=config.psi_threshold, prediction_psi=config.prediction_psi_threshold, alpha=config.drift_alpha
    )
    holdout = served_model.holdout_errors
    calibration = HoldoutCalibration(holdout, config.accuracy_rule()) if holdout is not None else None
    report = compute_drift_report(
        profile,
        log.served,
        log.rejected,
        sample,
        served_model.prediction_profile,
        thresholds,
        calibration=calibration,
        prediction_reference_rows=len(holdout) if holdout is not None else None,
    )
    champion_rmse = json.loads(registry.version_tags(name, version).get("metrics", "{}")).get("rmse", float("nan"))
    path = lake.drift_report(config.service, context.partition_key)
    write_json_atomic(path, {"window": [str(window.start), str(window.end)], "champion": version, **_summary(report)})
    largest_name, largest = report.largest_psi()
    results = judge(report, config, version)
    for result in results:
        if not result.passed:
            alerts.send(*failure_alert(result, config.service, name, version, context.partition_key))
    return dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.md(report.to_markdown()),
            "champion_version": version,
            "rows": report.rows,
            "rejected": report.rejected,
            "validation_failure_rate": float(report.validation_failure_rate),
            "largest_psi": float(largest),
            "largest_psi_feature": largest_name,
            "drifted_features": dg.MetadataValue.json(report.drifted_features()),
            "prediction_psi": float(report.prediction.value if report.prediction else float("nan")),
            "labelled_rows": report.labelled_rows,
            "rmse": float(report.accuracy.rmse),
            "bias": float(report.accuracy.bias),
            "champion_holdout_rmse": float(champion_rmse),
            "path": dg.MetadataValue.path(str(path)),
        },
        check_results=results,
    )


def judge(report: DriftReport, config: DriftReportConfig, version: str) -> list[dg.AssetCheckResult]:
    """The four checks as Dagster check results; each carries the value it saw and the threshold it applied."""
    # the sensor reads which service's model to retrain from the evaluation
    service = dg.MetadataValue.text(config.service)
    return [
        dg.AssetCheckResult(
            check_name=verdict.check,
            passed=verdict.passed,
            severity=dg.AssetCheckSeverity.ERROR if verdict.severity == ERROR else dg.AssetCheckSeverity.WARN,
            metadata={**{key: _metadata(value) for key, value in verdict.metadata.items()}, "service": service},
        )
        for verdict in checks.judge(report, config.rules(), version)
    ]


def _metadata(value: object) -> dg.MetadataValue:
    if isinstance(value, dict | list):
        return dg.MetadataValue.json(value)
    if isinstance(value, str):
        return dg.MetadataValue.text(value)
    if isinstance(value, bool | int):
        return dg.MetadataValue.int(int(value))
    if value is None:
        return dg.MetadataValue.null()
    return dg.MetadataValue.float(float(value))  # type: ignore[arg-type]


def failure_alert(
    result: dg.AssetCheckResult, service: str, name: str, version: str, window: str
) -> tuple[Severity, Kind, str, str, dict[str, object]]:
    """The alert for one failed check: CRITICAL for ERROR checks (they retrain), WARNING for WARN."""
    severity = Severity.CRITICAL if result.severity == dg.AssetCheckSeverity.ERROR else Severity.WARNING
    details: dict[str, object] = {"window": window, "champion_version": version}
    details |= {key: value.value for key, value in result.metadata.items() if key not in ("service", "note")}
    return severity, Kind.CHECK_FAILED, service, f"{name}: drift_report check {result.check_name} failed", details


def _lake_profile(lake: DataLake, service: str) -> ReferenceProfile:
    path = lake.profile_dir(service) / PROFILE_FILE
    if not path.is_file():
        raise MissingInputError(f"no reference profile for {service}: materialize reference_profile first")
    return ReferenceProfile.from_json(path.read_text())


def _summary(report: DriftReport) -> dict[str, object]:
    return {
        "rows": report.rows,
        "rejected": report.rejected,
        "psi": {name: result.value for name, result in report.psi.items()},
        "js": {name: result.js for name, result in report.divergence.items()},
        "new_categories": {n: list(r.new_categories) for n, r in report.divergence.items() if r.new_categories},
        "prediction_psi": report.prediction.value if report.prediction else None,
        "drifted_features": report.drifted_features(),
        "labelled_rows": report.labelled_rows,
        "accuracy": asdict(report.accuracy),
        "calibrated_accuracy": asdict(report.calibrated) if report.calibrated else None,
        "accuracy_by_segment": {s: {k: asdict(v) for k, v in g.items()} for s, g in report.accuracy_by_segment.items()},
        "thresholds": asdict(report.thresholds),
    }
