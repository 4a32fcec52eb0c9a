"""One monitoring window of the prediction log, judged per model version, without Dagster.

``WindowLog`` reads the window's rows and the labelled rows of the trailing accuracy period. ``version_reports``
computes one drift report per model version that served the window, each against that version's own reference
profile, prediction profile and holdout errors (a window that spans a promotion reports both versions apart).
``report_summary`` is what the lake keeps of a report.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta

import pandas as pd

from taxi_assets.errors import MissingInputError
from taxi_assets.lake_storage import LakeLocation
from taxi_assets.model.profile import PROFILE_FILE, SAMPLE_FILE, ReferenceProfile
from taxi_assets.model.pyfunc import FarePyfunc
from taxi_assets.model.versions import ModelRegistry
from taxi_assets.monitoring.accuracy import AccuracyRule, HoldoutCalibration
from taxi_assets.monitoring.attribution import attribution
from taxi_assets.monitoring.breakdowns import ACTUAL
from taxi_assets.monitoring.checks import version_order
from taxi_assets.monitoring.report import DriftReport, Thresholds, compute_drift_report
from taxi_assets.platform_db.prediction_log import LogWindow, read_labelled, read_window


@dataclass(frozen=True)
class Judging:
    """How a window is judged beyond its rows: the thresholds, accuracy's rule, the features it cannot count."""

    thresholds: Thresholds
    accuracy: AccuracyRule
    not_counted: tuple[str, ...]


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
    def read(cls, url: str, service: str, bounds: tuple[datetime, datetime], lookback_hours: float) -> WindowLog:
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

    def observed(self, service: str) -> dict[str, str | int]:
        """What this window saw of the prediction log (the asset records it on ``prediction_log``)."""
        times = pd.to_datetime(self.log.served.get("logged_at", pd.Series(dtype=str)), utc=True, format="ISO8601")
        return {
            "service": service,
            "window_start": self.start.isoformat(),
            "window_end": self.end.isoformat(),
            "served_rows": len(self.log.served),
            "rejected_rows": self.log.rejected,
            "labelled_rows_in_lookback": -1 if self.matured is None else int(self.matured[ACTUAL].notna().sum()),
            "newest_served": times.max().isoformat() if len(times) else "",
        }

    def metadata(self) -> dict[str, str | float]:
        """The window's bounds and the accuracy period, for the asset page."""
        return {
            "window_start": self.start.isoformat(),
            "window_end": self.end.isoformat(),
            "accuracy_period_hours": self.lookback.total_seconds() / 3600,
        }


def version_reports(
    log: WindowLog,
    champion: str | None,
    name: str,
    registry: ModelRegistry,
    judging: Judging,
    profile_dir: LakeLocation,
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
            judging,
            profile_dir,
            matured,
        )
    return reports, headline


def _version_report(
    served_model: FarePyfunc,
    rows: pd.DataFrame,
    rejected: int,
    judging: Judging,
    profile_dir: LakeLocation,
    matured: pd.DataFrame | None,
) -> DriftReport:
    """The rows one model version served, against that version's reference, predictions and holdout errors."""
    profile = served_model.profile or _lake_profile(profile_dir)
    # versions logged before they carried their reference sample fall back to the lake's
    sample = served_model.reference_sample
    if sample is None and (profile_dir / SAMPLE_FILE).is_file():
        sample = pd.read_csv(io.BytesIO((profile_dir / SAMPLE_FILE).read_bytes()))
    holdout = served_model.holdout_errors
    report = compute_drift_report(
        profile,
        rows.reset_index(drop=True),
        rejected,
        sample,
        served_model.prediction_profile,
        judging.thresholds,
        calibration=HoldoutCalibration(holdout, judging.accuracy) if holdout is not None else None,
        prediction_reference_rows=len(holdout) if holdout is not None else None,
        not_counted=judging.not_counted,
        labelled=matured,
    )
    served = rows[rows["prediction"].notna()] if "prediction" in rows else rows
    found = attribution(served_model.model, served_model.explainer, served.reset_index(drop=True), sample)
    return replace(report, attribution=found)


def _lake_profile(profile_dir: LakeLocation) -> ReferenceProfile:
    path = profile_dir / PROFILE_FILE
    if not path.is_file():
        raise MissingInputError(f"no reference profile in {profile_dir}: materialize reference_profile first")
    return ReferenceProfile.from_json(path.read_text())


def report_summary(report: DriftReport) -> dict[str, object]:
    """Every statistic of a report as JSON-ready values, as the lake keeps it."""
    return {
        "rows": report.rows,
        "rejected": report.rejected,
        "psi": {name: result.value for name, result in report.psi.items()},
        # the PSI (and JS) over which a feature drifts at this window's size: threshold plus the chance level
        "psi_limit": {name: result.limit for name, result in report.psi.items()},
        "js": {name: result.js for name, result in report.divergence.items()},
        "js_limit": {name: result.limit for name, result in report.divergence.items()},
        "not_counted": [name for name in report.psi if name not in report.counted_features],
        "new_categories": {n: list(r.new_categories) for n, r in report.divergence.items() if r.new_categories},
        "prediction_psi": report.prediction.value if report.prediction else None,
        "drifted_features": report.drifted_features(),
        "labelled_rows": report.labelled_rows,
        "accuracy": asdict(report.accuracy),
        "calibrated_accuracy": asdict(report.calibrated) if report.calibrated else None,
        "accuracy_by_segment": {s: {k: asdict(v) for k, v in g.items()} for s, g in report.accuracy_by_segment.items()},
        "thresholds": asdict(report.thresholds),
        "distributions": {name: asdict(d) for name, d in report.distributions.items()},
        "attribution": _attribution_summary(report),
    }


def _attribution_summary(report: DriftReport) -> dict[str, object] | None:
    """Mean absolute contributions at training and in the window, and the drifted features that moved them."""
    found = report.attribution
    if found is None:
        return None
    return asdict(found) | {"moving_predictions": found.movers(report.drifted_features())}
