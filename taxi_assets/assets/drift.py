"""Monitoring: the drift report of one window of the prediction log, and the checks that judge it."""

import io
import json
from dataclasses import asdict

import dagster as dg
import pandas as pd
from pydantic import Field

from taxi_assets import constants
from taxi_assets.assets.common import failing_clearly
from taxi_assets.drift.profile import PROFILE_FILE, SAMPLE_FILE, ReferenceProfile
from taxi_assets.drift.psi import PSI_THRESHOLD
from taxi_assets.drift.report import DriftReport, Thresholds, compute_drift_report
from taxi_assets.lakefs import write_json_atomic
from taxi_assets.lifecycle.alerts import Kind, Severity
from taxi_assets.lifecycle.prediction_log import read_window
from taxi_assets.lifecycle.registry import CHAMPION, model_name
from taxi_assets.modeling.errors import MissingInputError
from taxi_assets.resources import AlertsResource, DataLake, MlflowResource, PlatformDatabase

FEATURE_DRIFT = "feature_drift"
PREDICTION_DRIFT = "prediction_drift"
VALIDATION_FAILURES = "validation_failure_rate"
ACCURACY = "accuracy"
DRIFT_CHECKS = (FEATURE_DRIFT, PREDICTION_DRIFT, VALIDATION_FAILURES, ACCURACY)

daily_windows = dg.DailyPartitionsDefinition(start_date=constants.MONITORING_START, end_offset=1)


class DriftReportConfig(dg.Config):
    """Which model's traffic is judged, and the thresholds of the checks."""

    service: str = Field(default=constants.DEFAULT_DEMO_SERVICE, description="TLC service of the served model.")
    psi_threshold: float = Field(default=PSI_THRESHOLD, description="PSI above which a feature has drifted.")
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
    accuracy_ratio_margin: float = Field(
        default=constants.ACCURACY_RATIO_MARGIN, description="Allowed relative RMSE loss vs the champion's holdout."
    )
    accuracy_absolute_margin: float = Field(
        default=constants.ACCURACY_ABSOLUTE_MARGIN, description="Allowed absolute RMSE loss (the larger applies)."
    )


def _specs() -> list[dg.AssetCheckSpec]:
    descriptions = {
        FEATURE_DRIFT: "ERROR when enough counted features drift (PSI, or JS for categoricals); WARN for one or two.",
        PREDICTION_DRIFT: "PSI of served predictions against the champion's own holdout predictions.",
        VALIDATION_FAILURES: "Share of requests rejected by validation.",
        ACCURACY: "RMSE on matured labels against the champion's holdout RMSE plus the margin.",
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
    thresholds = Thresholds(psi=config.psi_threshold, prediction_psi=config.prediction_psi_threshold)
    report = compute_drift_report(
        profile, log.served, log.rejected, sample, served_model.prediction_profile, thresholds
    )
    champion_rmse = json.loads(registry.version_tags(name, version).get("metrics", "{}")).get("rmse", float("nan"))
    path = lake.drift_report(config.service, context.partition_key)
    write_json_atomic(path, {"window": [str(window.start), str(window.end)], "champion": version, **_summary(report)})
    largest_name, largest = report.largest_psi()
    results = judge(report, config, champion_rmse)
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


def judge(report: DriftReport, config: DriftReportConfig, champion_rmse: float) -> list[dg.AssetCheckResult]:
    """The four checks; each carries the value it saw and the threshold it applied."""
    warn, error = dg.AssetCheckSeverity.WARN, dg.AssetCheckSeverity.ERROR
    too_small = report.rows < config.min_rows
    note = f"not enough data: {report.rows} rows < {config.min_rows}"
    drifted = report.drifted_features()
    results = [
        dg.AssetCheckResult(
            check_name=FEATURE_DRIFT,
            passed=too_small or not drifted,
            severity=error if len(drifted) >= config.drifted_features_for_error else warn,
            metadata={
                "drifted_features": dg.MetadataValue.json(drifted),
                "count": len(drifted),
                "threshold_count": config.drifted_features_for_error,
                "psi_threshold": config.psi_threshold,
                "note": note if too_small else "",
            },
        )
    ]
    prediction_psi = report.prediction.value if report.prediction else float("nan")
    results.append(
        dg.AssetCheckResult(
            check_name=PREDICTION_DRIFT,
            passed=too_small or not prediction_psi > config.prediction_psi_threshold,
            severity=error,
            metadata={
                "psi": float(prediction_psi),
                "threshold": config.prediction_psi_threshold,
                "note": note if too_small else "",
            },
        )
    )
    total = report.rows + report.rejected
    rate = report.validation_failure_rate
    results.append(
        dg.AssetCheckResult(
            check_name=VALIDATION_FAILURES,
            passed=total < config.min_rows or not rate > config.max_validation_failure_rate,
            severity=error,
            metadata={"rate": float(rate), "threshold": config.max_validation_failure_rate, "requests": total},
        )
    )
    allowed = max(champion_rmse * (1 + config.accuracy_ratio_margin), champion_rmse + config.accuracy_absolute_margin)
    few_labels = report.labelled_rows < config.min_labelled_rows
    results.append(
        dg.AssetCheckResult(
            check_name=ACCURACY,
            passed=few_labels or not report.accuracy.rmse > allowed,
            severity=error,
            metadata={
                "rmse": float(report.accuracy.rmse),
                "threshold": float(allowed),
                "champion_holdout_rmse": float(champion_rmse),
                "labelled_rows": report.labelled_rows,
                "bias": float(report.accuracy.bias),
                "note": f"not enough data: {report.labelled_rows} labels < {config.min_labelled_rows}"
                if few_labels
                else "",
            },
        )
    )
    # the sensor reads which service's model to retrain from the evaluation
    service = dg.MetadataValue.text(config.service)
    return [result._replace(metadata={**result.metadata, "service": service}) for result in results]


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
        "accuracy_by_segment": {s: {k: asdict(v) for k, v in g.items()} for s, g in report.accuracy_by_segment.items()},
        "thresholds": asdict(report.thresholds),
    }
