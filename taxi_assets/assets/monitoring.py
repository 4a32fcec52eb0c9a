"""Monitoring: the reference profile, and the drift report of a window of the prediction log with its checks.

The reference profile is what drift is measured against; the drift report judges one window of one service.
"""

import dagster as dg
from pydantic import Field

from taxi_assets import constants
from taxi_assets.assets.common import failing_clearly
from taxi_assets.assets.features import training_set
from taxi_assets.features.schema import read_feature_table
from taxi_assets.features.split import SPLIT, TRAIN
from taxi_assets.features.trip_rules import bounds_from
from taxi_assets.lake_storage import LakeLocation, read_committed, write_json_atomic
from taxi_assets.model.profile import fit_reference_profile, reference_sample, write_profile
from taxi_assets.model.versions import CHAMPION, model_name
from taxi_assets.monitoring import checks
from taxi_assets.monitoring.accuracy import STATISTICS, AccuracyRule
from taxi_assets.monitoring.checks import (
    ACCURACY,
    ERROR,
    FEATURE_DRIFT,
    PREDICTION_DRIFT,
    VALIDATION_FAILURES,
    CheckRules,
)
from taxi_assets.monitoring.incidents import IncidentStore, record_verdicts
from taxi_assets.monitoring.psi import PSI_THRESHOLD
from taxi_assets.monitoring.report import DriftReport, Thresholds, not_counted_for
from taxi_assets.monitoring.window import Judging, WindowLog, report_summary, version_reports
from taxi_assets.partitions import SERVICE, WINDOW, MonitoringWindows, service_partitions, split_window_service
from taxi_assets.resources import AlertsResource, DataLake, MlflowResource, MonitoringPolicy, PlatformDatabase


class ReferenceProfileConfig(dg.Config):
    """How the reference profile is fitted."""

    bins: int = Field(default=constants.REFERENCE_BINS, description="Quantile bins per numeric feature.")
    sample_rows: int = Field(
        default=constants.REFERENCE_SAMPLE_ROWS, description="Rows in the reference sample (reference.csv)."
    )
    seed: int = Field(default=constants.PROFILE_SEED, description="Seed of the reference sample.")


@dg.asset(
    partitions_def=service_partitions,
    deps=[training_set],
    group_name=constants.MONITORING_GROUP,
    kinds={"numpy", "json"},
    code_version="1",
)
def reference_profile(
    context: dg.AssetExecutionContext, config: ReferenceProfileConfig, lake: DataLake
) -> dg.MaterializeResult:
    """The reference the monitoring compares live traffic with, fitted on the training split only.

    Per-feature quantile bins and shares, category shares, valid API ranges and a reference sample; written as
    reference_profile.json plus reference.csv.
    """
    service = context.partition_key
    with failing_clearly():
        manifest, data = read_committed(lake.training_set(service), f"training_set {service}")
        train = read_feature_table(data / f"{SPLIT}={TRAIN}")
        profile = fit_reference_profile(
            train,
            service=service,
            months=manifest["months"],
            bins=config.bins,
            seed=config.seed,
            training_set_hash=manifest["train_hash"],
            bounds=bounds_from(manifest.get("bounds")),
        )
    sample = reference_sample(train, config.sample_rows, config.seed)
    profile_path, sample_path = write_profile(profile, sample, lake.profile_dir(service))
    ranges = {name: [round(p.robust_low, 3), round(p.robust_high, 3)] for name, p in profile.numeric.items()}
    return dg.MaterializeResult(
        metadata={
            "rows": profile.rows,
            "months": dg.MetadataValue.json(profile.months),
            "bins_per_feature": dg.MetadataValue.json({n: len(p.shares) for n, p in profile.numeric.items()}),
            "robust_ranges": dg.MetadataValue.json(ranges),
            "categories": dg.MetadataValue.json({n: len(p.shares) for n, p in profile.categorical.items()}),
            "target_mean": round(profile.target.mean, 4),
            "sample_rows": len(sample),
            "training_set_hash": profile.training_set_hash,
            "profile_path": dg.MetadataValue.path(str(profile_path)),
            "sample_path": dg.MetadataValue.path(str(sample_path)),
        }
    )


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
        default=constants.MIN_LABELLED_ROWS, description="Matured labels accuracy is judged on (less the tolerance)."
    )
    label_tolerance: float = Field(
        default=constants.LABEL_TOLERANCE,
        description="Share of min_labelled_rows a window may be short and still be judged, on the labels it has.",
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

    def judging(self, not_counted: tuple[str, ...]) -> Judging:
        """Thresholds, accuracy's rule and the features a window of this length leaves out of the count."""
        thresholds = Thresholds(
            psi=self.psi_threshold, prediction_psi=self.prediction_psi_threshold, alpha=self.drift_alpha
        )
        return Judging(thresholds, self.accuracy_rule(), not_counted)

    def accuracy_rule(self) -> AccuracyRule:
        """How accuracy is calibrated and judged."""
        return AccuracyRule(
            statistic=self.accuracy_statistic,
            alpha=self.accuracy_alpha,
            min_effect=self.accuracy_min_effect_usd,
            min_relative_effect=self.accuracy_min_relative_effect,
            min_labels=self.min_labelled_rows,
            label_tolerance=self.label_tolerance,
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


PREDICTION_LOG_KEY = dg.AssetKey("prediction_log")


def build_drift_report(windows: MonitoringWindows) -> dg.AssetsDefinition:
    """drift_report over ``windows``: one partition per window and service (the window length is configuration)."""

    @dg.asset(
        name="drift_report",
        partitions_def=windows.by_service,
        group_name=constants.MONITORING_GROUP,
        kinds={"sql", "numpy"},
        deps=[PREDICTION_LOG_KEY],
        check_specs=_specs(),
        code_version="3",
    )
    def drift_report(
        context: dg.AssetExecutionContext,
        config: DriftReportConfig,
        lake: DataLake,
        mlflow: MlflowResource,
        platform_db: PlatformDatabase,
        alerts: AlertsResource,
        monitoring: MonitoringPolicy,
    ) -> dg.MaterializeResult:
        """One window of one service's prediction log, each model version against its own reference.

        Drift per feature, prediction drift, validation failures, and accuracy on the labels matured in the
        trailing ``accuracy_lookback_hours``. A window that spans a promotion reports each version apart; only
        the champion's failures retrain. Each check's failures are one incident: alerted when it opens, escalates
        or resolves, not at every failing window.
        """
        service, window = split_window_service(context)
        log = WindowLog.read(platform_db.url, service, windows.bounds(window), monitoring.accuracy_lookback_hours)
        context.log_event(dg.AssetObservation(asset_key=PREDICTION_LOG_KEY, metadata=log.observed(service)))
        name, registry = model_name(service), mlflow.registry()
        with failing_clearly():
            champion = registry.alias(name, CHAMPION)
            judging = config.judging(not_counted_for(windows.minutes))
            reports, headline = version_reports(log, champion, name, registry, judging, lake.profile_dir(service))
        verdicts = checks.combine({v: checks.judge(r, config.rules(), v) for v, r in reports.items()}, champion)
        results = [_check_result(verdict, service, window) for verdict in verdicts]
        store = IncidentStore(platform_db.url)
        for severity, kind, _, title, details in record_verdicts(store, verdicts, service, window, name):
            alerts.send(severity, kind, service, title, details | {"dagster_run_id": context.run.run_id})
        path = lake.drift_report(service, window)
        summaries = {version: report_summary(report) for version, report in reports.items()}
        bounds = [moment.isoformat() for moment in (log.start, log.end)]
        written = {"window": [window], "bounds": bounds, "service": service, "champion": champion}
        write_json_atomic(path, written | {"dagster_run_id": context.run.run_id, "versions": summaries})
        metadata = _report_metadata(reports, headline, champion, path) | log.metadata()
        return dg.MaterializeResult(metadata=metadata, check_results=results)

    return drift_report


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
        # reported but not counted: calendar features the window's length cannot match against the reference
        "not_counted_features": dg.MetadataValue.json([n for n in report.psi if n not in report.counted_features]),
        "prediction_psi": float(report.prediction.value if report.prediction else float("nan")),
        "labelled_rows": sum(r.labelled_rows for r in reports.values()),
        "rmse": float(report.accuracy.rmse),
        "mae": float(report.accuracy.mae),
        "bias": float(report.accuracy.bias),
        "path": dg.MetadataValue.path(str(path)),
    }


def _check_result(verdict: checks.Verdict, service: str, window: str) -> dg.AssetCheckResult:
    """A verdict as a Dagster check result; it names the service and window it judged (the sensor reads them)."""
    judged = {SERVICE: dg.MetadataValue.text(service), WINDOW: dg.MetadataValue.text(window)}
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
