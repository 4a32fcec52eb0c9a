"""Monitoring: the drift report of one window of the prediction log, and the checks that judge it."""

import io
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

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
from taxi_assets.drift.report import ACTUAL, DriftReport, Thresholds, compute_drift_report, not_counted_for
from taxi_assets.lakefs import LakeLocation, write_json_atomic
from taxi_assets.lifecycle.alerts import Kind, Severity
from taxi_assets.lifecycle.incidents import Incident, IncidentStore, Outcome, Transition
from taxi_assets.lifecycle.prediction_log import LogWindow, read_labelled, read_window
from taxi_assets.lifecycle.registry import CHAMPION, ModelRegistry, model_name
from taxi_assets.modeling.errors import MissingInputError
from taxi_assets.modeling.pyfunc import FarePyfunc
from taxi_assets.partitions import SERVICE, WINDOW, MonitoringWindows, split_window_service
from taxi_assets.resources import AlertsResource, DataLake, MlflowResource, MonitoringPolicy, PlatformDatabase


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
        context.log_event(log.observation(service))
        name, registry = model_name(service), mlflow.registry()
        with failing_clearly():
            champion = registry.alias(name, CHAMPION)
            reports, headline = _reports(log, champion, name, registry, config, lake.profile_dir(service), windows)
        verdicts = checks.combine({v: checks.judge(r, config.rules(), v) for v, r in reports.items()}, champion)
        results = [_check_result(verdict, service, window) for verdict in verdicts]
        raise_incident_alerts(alerts, IncidentStore(platform_db.url), verdicts, results, service, window)
        path = lake.drift_report(service, window)
        summaries = {version: _summary(report) for version, report in reports.items()}
        write_json_atomic(path, {"window": [window], "service": service, "champion": champion, "versions": summaries})
        metadata = _report_metadata(reports, headline, champion, path) | log.metadata()
        return dg.MaterializeResult(metadata=metadata, check_results=results)

    return drift_report


@dataclass(frozen=True)
class WindowLog:
    """What one window reads from the prediction log: its rows, and the labelled rows accuracy is judged on."""

    start: datetime
    end: datetime
    log: LogWindow
    # the labelled rows of the trailing period when it is longer than the window (None: the window's own)
    matured: pd.DataFrame | None
    lookback: timedelta

    @classmethod
    def read(cls, url: str, service: str, bounds: tuple[datetime, datetime], lookback_hours: float) -> "WindowLog":
        """The window ``bounds`` of ``service``, and the labelled rows of ``lookback_hours`` before its end."""
        start, end = bounds
        lookback = max(timedelta(hours=lookback_hours), end - start)
        matured = read_labelled(url, service, end - lookback, end) if lookback > end - start else None
        return cls(start, end, read_window(url, start, end, service), matured, lookback)

    def rows_of(self, version: str | None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """The window's rows one version served (all when None), and its matured labelled rows."""
        served, matured = self.log.served, self.matured
        if version is None:
            return served, matured
        picked = served[served["model_version"].astype(str) == version]
        if matured is not None:
            matured = matured[matured["model_version"].astype(str) == version].reset_index(drop=True)
        return picked, matured

    def observation(self, service: str) -> dg.AssetObservation:
        """What this window saw of the prediction log, recorded on the ``prediction_log`` asset."""
        times = pd.to_datetime(self.log.served.get("logged_at", pd.Series(dtype=str)), utc=True, format="ISO8601")
        return dg.AssetObservation(
            asset_key=PREDICTION_LOG_KEY,
            metadata={
                "service": service,
                "window_start": self.start.isoformat(),
                "window_end": self.end.isoformat(),
                "served_rows": len(self.log.served),
                "rejected_rows": self.log.rejected,
                "labelled_rows_in_lookback": -1 if self.matured is None else int(self.matured[ACTUAL].notna().sum()),
                "newest_served": times.max().isoformat() if len(times) else "",
            },
        )

    def metadata(self) -> dict[str, dg.MetadataValue | str | int | float]:
        """The window's bounds and the accuracy period, for the asset page."""
        return {
            "window_start": self.start.isoformat(),
            "window_end": self.end.isoformat(),
            "accuracy_period_hours": self.lookback.total_seconds() / 3600,
        }


def _reports(
    log: WindowLog,
    champion: str | None,
    name: str,
    registry: ModelRegistry,
    config: DriftReportConfig,
    profile_dir: LakeLocation,
    windows: MonitoringWindows,
) -> tuple[dict[str, DriftReport], str]:
    """One report per model version that served the window (the champion when none did), and the headline one."""
    served = sorted(log.log.served["model_version"].dropna().astype(str).unique().tolist(), key=version_order)
    versions = served or ([champion] if champion else [])
    if not versions:
        raise MissingInputError(f"{name} has no champion to monitor; train and promote one first")
    # rejected requests reached no model: they count with the champion's traffic (else the newest version's)
    headline = champion if champion is not None and champion in versions else versions[-1]
    reports = {}
    for version in versions:
        rows, matured = log.rows_of(version if served else None)
        reports[version] = _version_report(
            registry.load_pyfunc(name, version),
            rows,
            log.log.rejected if version == headline else 0,
            config,
            profile_dir,
            VersionWindow(not_counted_for(windows.minutes), matured),
        )
    return reports, headline


@dataclass(frozen=True)
class VersionWindow:
    """How a window is judged beyond its rows: features it cannot count, and the labelled rows of accuracy."""

    not_counted: tuple[str, ...]
    matured: pd.DataFrame | None


def raise_incident_alerts(
    alerts: AlertsResource,
    store: IncidentStore,
    verdicts: list[checks.Verdict],
    results: list[dg.AssetCheckResult],
    service: str,
    window: str,
) -> None:
    """Record each verdict on its check's incident; alert when an incident opens, escalates or resolves."""
    for verdict, result in zip(verdicts, results, strict=True):
        outcome = Outcome(
            service,
            verdict.check,
            window,
            verdict.passed,
            verdict.judged,
            verdict.severity,
            str(verdict.metadata.get("model_version", "")),
        )
        transition, incident = store.record(outcome)
        if transition.alerts and incident is not None:
            alerts.send(*incident_alert(transition, incident, result, model_name(service)))


def _version_report(
    served_model: FarePyfunc,
    rows: pd.DataFrame,
    rejected: int,
    config: DriftReportConfig,
    profile_dir: LakeLocation,
    judged: VersionWindow,
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
        not_counted=judged.not_counted,
        labelled=judged.matured,
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


def incident_alert(
    transition: Transition, incident: Incident, result: dg.AssetCheckResult, name: str
) -> tuple[Severity, Kind, str, str, dict[str, object]]:
    """The alert of an incident that opened, escalated or resolved, with its first and last failing windows.

    CRITICAL for ERROR checks (they retrain), WARNING for WARN, INFO when resolved. It names the model version
    whose traffic failed, which after a promotion may be the previous champion.
    """
    windows = {"first_window": incident.first_window, "last_window": incident.last_window}
    if transition is Transition.RESOLVED:
        details: dict[str, object] = {
            **windows,
            "resolved_window": incident.resolved_window,
            "failed_windows": incident.failed_windows,
            "severity": incident.severity,
        }
        title = f"RESOLVED: {name} drift_report check {incident.check} passes again"
        return Severity.INFO, Kind.CHECK_RESOLVED, incident.service, title, details
    severity = Severity.CRITICAL if incident.severity == ERROR else Severity.WARNING
    details = {**windows, "window": result.metadata[WINDOW].value if WINDOW in result.metadata else ""}
    details |= {key: value.value for key, value in result.metadata.items() if key not in (SERVICE, WINDOW, "note")}
    verb = "escalated to ERROR" if transition is Transition.ESCALATED else "failed"
    title = f"{name} v{incident.model_version}: drift_report check {incident.check} {verb}"
    return severity, Kind.CHECK_FAILED, incident.service, title, details


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
