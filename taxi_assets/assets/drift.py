"""Monitoring: the drift report of one window of the prediction log, and the checks that judge it."""

import io
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

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
    version_order,
)
from taxi_assets.drift.profile import PROFILE_FILE, SAMPLE_FILE, ReferenceProfile
from taxi_assets.drift.psi import PSI_THRESHOLD
from taxi_assets.drift.report import DriftReport, Thresholds, compute_drift_report
from taxi_assets.lakefs import LakeLocation, write_json_atomic
from taxi_assets.lifecycle.alerts import Kind, Severity
from taxi_assets.lifecycle.prediction_log import read_window
from taxi_assets.lifecycle.registry import CHAMPION, model_name
from taxi_assets.modeling.errors import MissingInputError
from taxi_assets.modeling.pyfunc import FarePyfunc
from taxi_assets.partitions import SERVICE, WINDOW, split_window_service, window_service_partitions
from taxi_assets.resources import AlertsResource, DataLake, MlflowResource, PlatformDatabase


class DriftReportConfig(dg.Config):
    """The thresholds of the checks (the service and the day come from the partition)."""

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
    partitions_def=window_service_partitions,
    group_name=constants.MONITORING_GROUP,
    kinds={"sql", "numpy"},
    check_specs=_specs(),
    code_version="2",
)
def drift_report(
    context: dg.AssetExecutionContext,
    config: DriftReportConfig,
    lake: DataLake,
    mlflow: MlflowResource,
    platform_db: PlatformDatabase,
    alerts: AlertsResource,
) -> dg.MaterializeResult:
    """One day of one service's prediction log, each model version against its own reference.

    Drift per feature, prediction drift, validation failures, and accuracy on the labels that have arrived. A
    day that spans a promotion reports each version apart; only the champion's failures retrain.
    """
    service, day = split_window_service(context)
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    name, registry = model_name(service), mlflow.registry()
    log = read_window(platform_db.url, start, start + timedelta(days=1), service)
    with failing_clearly():
        champion = registry.alias(name, CHAMPION)
        served = sorted(log.served["model_version"].dropna().astype(str).unique().tolist(), key=version_order)
        versions = served or ([champion] if champion else [])
        if not versions:
            raise MissingInputError(f"{name} has no champion to monitor; train and promote one first")
        # rejected requests reached no model: they count with the champion's traffic (else the newest version's)
        headline = champion if champion is not None and champion in versions else versions[-1]
        reports = {
            version: _version_report(
                registry.load_pyfunc(name, version),
                log.served[log.served["model_version"].astype(str) == version] if served else log.served,
                log.rejected if version == headline else 0,
                config,
                lake.profile_dir(service),
            )
            for version in versions
        }
    verdicts = checks.combine({v: checks.judge(r, config.rules(), v) for v, r in reports.items()}, champion)
    results = [_check_result(verdict, service, day) for verdict in verdicts]
    for result in results:
        if not result.passed:
            alerts.send(*failure_alert(result, service, name, context.partition_key))
    path = lake.drift_report(service, day)
    summaries = {version: _summary(report) for version, report in reports.items()}
    write_json_atomic(path, {"window": [day], "service": service, "champion": champion, "versions": summaries})
    return dg.MaterializeResult(metadata=_report_metadata(reports, headline, champion, path), check_results=results)


def _version_report(
    served_model: FarePyfunc,
    rows: pd.DataFrame,
    rejected: int,
    config: DriftReportConfig,
    profile_dir: LakeLocation,
) -> DriftReport:
    """The rows one model version served, against that version's reference, predictions and holdout errors."""
    profile = served_model.profile or _lake_profile(profile_dir)
    # versions logged before they carried their reference sample fall back to the lake's
    sample = served_model.reference_sample
    if sample is None and (profile_dir / SAMPLE_FILE).is_file():
        sample = pd.read_csv(io.BytesIO((profile_dir / SAMPLE_FILE).read_bytes()))
    holdout = served_model.holdout_errors
    return compute_drift_report(
        profile,
        rows.reset_index(drop=True),
        rejected,
        sample,
        served_model.prediction_profile,
        Thresholds(psi=config.psi_threshold, prediction_psi=config.prediction_psi_threshold, alpha=config.drift_alpha),
        calibration=HoldoutCalibration(holdout, config.accuracy_rule()) if holdout is not None else None,
        prediction_reference_rows=len(holdout) if holdout is not None else None,
    )


def _report_metadata(
    reports: dict[str, DriftReport], headline: str, champion: str | None, path: LakeLocation
) -> dict[str, dg.MetadataValue | str | int | float]:
    """The window's numbers for the UI: the headline version's, plus the rows of each version."""
    report = reports[headline]
    largest_name, largest = report.largest_psi()
    markdown = "\n\n".join(f"**model version {v}**\n\n{r.to_markdown()}" for v, r in reports.items())
    return {
        "report": dg.MetadataValue.md(markdown),
        "champion_version": champion or "",
        "headline_version": headline,
        "rows_by_version": dg.MetadataValue.json({version: r.rows for version, r in reports.items()}),
        "rows": sum(r.rows for r in reports.values()),
        "rejected": report.rejected,
        "validation_failure_rate": float(report.validation_failure_rate),
        "largest_psi": float(largest),
        "largest_psi_feature": largest_name,
        "drifted_features": dg.MetadataValue.json(report.drifted_features()),
        "prediction_psi": float(report.prediction.value if report.prediction else float("nan")),
        "labelled_rows": sum(r.labelled_rows for r in reports.values()),
        "rmse": float(report.accuracy.rmse),
        "mae": float(report.accuracy.mae),
        "bias": float(report.accuracy.bias),
        "path": dg.MetadataValue.path(str(path)),
    }


def _check_result(verdict: checks.Verdict, service: str, day: str) -> dg.AssetCheckResult:
    """A verdict as a Dagster check result; it names the service and day it judged (the sensor reads them)."""
    judged = {SERVICE: dg.MetadataValue.text(service), WINDOW: dg.MetadataValue.text(day)}
    return dg.AssetCheckResult(
        check_name=verdict.check,
        passed=verdict.passed,
        severity=dg.AssetCheckSeverity.ERROR if verdict.severity == ERROR else dg.AssetCheckSeverity.WARN,
        metadata={**{key: _metadata(value) for key, value in verdict.metadata.items()}, **judged},
    )


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
    result: dg.AssetCheckResult, service: str, name: str, window: str
) -> tuple[Severity, Kind, str, str, dict[str, object]]:
    """The alert for one failed check: CRITICAL for ERROR checks (they retrain), WARNING for WARN.

    It names the model version whose traffic failed, which after a promotion may be the previous champion.
    """
    severity = Severity.CRITICAL if result.severity == dg.AssetCheckSeverity.ERROR else Severity.WARNING
    version = result.metadata["model_version"].value if "model_version" in result.metadata else ""
    details: dict[str, object] = {"window": window}
    details |= {key: value.value for key, value in result.metadata.items() if key not in (SERVICE, WINDOW, "note")}
    title = f"{name} v{version}: drift_report check {result.check_name} failed"
    return severity, Kind.CHECK_FAILED, service, title, details


def _lake_profile(profile_dir: LakeLocation) -> ReferenceProfile:
    path = profile_dir / PROFILE_FILE
    if not path.is_file():
        raise MissingInputError(f"no reference profile in {profile_dir}: materialize reference_profile first")
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
