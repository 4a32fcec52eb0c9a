"""The rules of the four monitoring checks, on a finished drift report; pure (the asset turns them into checks).

Each verdict carries the value it saw and the threshold it applied. ERROR failures retrain the model; WARN
failures alert only. Every rule is calibrated to the window's size (see ``psi.py``, ``jensen_shannon.py`` and
``accuracy.py``), and ``make calibrate`` measures how often each fails on calm and changed real months.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np

from taxi_assets import constants
from taxi_assets.monitoring.report import DriftReport

FEATURE_DRIFT: Final = "feature_drift"
PREDICTION_DRIFT: Final = "prediction_drift"
VALIDATION_FAILURES: Final = "validation_failure_rate"
ACCURACY: Final = "accuracy"
DRIFT_CHECKS: Final = (FEATURE_DRIFT, PREDICTION_DRIFT, VALIDATION_FAILURES, ACCURACY)
ERROR: Final = "ERROR"
WARN: Final = "WARN"


@dataclass(frozen=True)
class CheckRules:
    """The thresholds of the checks that are not calibrated on the champion (those live in the report)."""

    drifted_features_for_error: int = constants.FEATURE_DRIFT_ERROR_COUNT
    max_validation_failure_rate: float = constants.VALIDATION_FAILURE_RATE_MAX
    min_rows: int = constants.MIN_WINDOW_ROWS


@dataclass(frozen=True)
class Verdict:
    """One check on one window: passed or not, its severity, and the evidence."""

    check: str
    passed: bool
    severity: str
    metadata: dict[str, object] = field(default_factory=dict)

    @property
    def judged(self) -> bool:
        """False for a pass that only says why it could not judge (too little data, no reference)."""
        return not (self.passed and self.metadata.get("note"))


def judge(report: DriftReport, rules: CheckRules, model_version: str = "") -> list[Verdict]:
    """The four checks of one window, in ``DRIFT_CHECKS`` order."""
    return [
        feature_drift(report, rules),
        prediction_drift(report, rules),
        validation_failures(report, rules),
        accuracy(report, model_version),
    ]


def _too_small(report: DriftReport, rules: CheckRules) -> str:
    return f"not enough data: {report.rows} rows < {rules.min_rows}" if report.rows < rules.min_rows else ""


def feature_drift(report: DriftReport, rules: CheckRules) -> Verdict:
    """ERROR when ``drifted_features_for_error`` counted features drift; WARN for fewer."""
    note = _too_small(report, rules)
    drifted = report.drifted_features()
    bias = {name: round(result.bias, 4) for name, result in report.psi.items() if name in drifted}
    return Verdict(
        FEATURE_DRIFT,
        passed=bool(note) or not drifted,
        severity=ERROR if len(drifted) >= rules.drifted_features_for_error else WARN,
        metadata={
            "drifted_features": drifted,
            "count": len(drifted),
            "threshold_count": rules.drifted_features_for_error,
            "psi_threshold": report.thresholds.psi,
            "psi_of_drifted": {name: round(report.psi[name].value, 4) for name in drifted if name in report.psi},
            "small_sample_bias_of_drifted": bias,
            "rows": report.rows,
            "note": note,
        },
    )


def prediction_drift(report: DriftReport, rules: CheckRules) -> Verdict:
    """ERROR when the PSI of served predictions, less its small-sample bias, is over the threshold.

    WARN when the model version carries no prediction reference to compare with.
    """
    note = _too_small(report, rules)
    result = report.prediction
    if result is None:
        note = note or "no prediction reference for this model version: retrain to judge it"
        return Verdict(PREDICTION_DRIFT, passed=report.rows < rules.min_rows, severity=WARN, metadata={"note": note})
    return Verdict(
        PREDICTION_DRIFT,
        passed=bool(note) or (result.judged and not result.drifted),
        severity=ERROR,
        metadata={
            "psi": float(result.value),
            "threshold": report.thresholds.prediction_psi,
            "small_sample_bias": float(result.bias),
            "chance_limit": float(result.critical),
            "rows": report.rows,
            "note": note,
        },
    )


def validation_failures(report: DriftReport, rules: CheckRules) -> Verdict:
    """ERROR when more than ``max_validation_failure_rate`` of the window's requests were rejected."""
    total = report.rows + report.rejected
    rate = report.validation_failure_rate
    return Verdict(
        VALIDATION_FAILURES,
        passed=total < rules.min_rows or not rate > rules.max_validation_failure_rate,
        severity=ERROR,
        metadata={"rate": float(rate), "threshold": rules.max_validation_failure_rate, "requests": total},
    )


def accuracy(report: DriftReport, model_version: str = "") -> Verdict:
    """ERROR when accuracy on matured labels is materially and significantly worse than the holdout's.

    WARN when only segments are (at the Bonferroni level), or when the model carries no holdout errors to be
    judged against. Too few labels pass with a note. RMSE and bias are reported beside the calibrated statistic.
    """
    judgement = report.calibrated
    reported = {"rmse": _finite(report.accuracy.rmse), "bias": _finite(report.accuracy.bias)}
    if judgement is None:
        return Verdict(
            ACCURACY,
            passed=False,
            severity=WARN,
            metadata={
                **reported,
                "labelled_rows": report.labelled_rows,
                "note": f"model version {model_version or '?'} carries no holdout errors: retrain to judge it",
            },
        )
    overall = judgement.overall
    segments = {
        f"{s.segment}={s.value}": {
            "labels": s.verdict.labels,
            "value": round(s.verdict.value, 4),
            "threshold": round(s.verdict.threshold, 4),
            "alpha": s.verdict.alpha,
        }
        for s in judgement.segments
    }
    degraded = judgement.degraded_segments()
    note = "" if judgement.judged else f"not enough data: {overall.labels} labels"
    return Verdict(
        ACCURACY,
        passed=not judgement.judged or (not overall.degraded and not degraded),
        severity=ERROR if judgement.judged and overall.degraded else WARN,
        metadata={
            "statistic": overall.statistic,
            "value": _finite(overall.value),
            "threshold": _finite(overall.threshold),
            "holdout_value": _finite(overall.baseline),
            "chance_limit": _finite(overall.noise_limit),
            "min_effect": overall.min_effect,
            "alpha": overall.alpha,
            "labelled_rows": overall.labels,
            "effect": _finite(overall.effect),
            "effect_ci_95": [_finite(overall.effect_low), _finite(overall.effect_high)],
            **reported,
            "degraded_segments": degraded,
            "segments": segments,
            "note": note,
        },
    )


def _finite(value: float) -> float | None:
    """Rounded for display; None for NaN (JSON has no NaN)."""
    return round(float(value), 4) if np.isfinite(value) else None


def combine(by_version: dict[str, list[Verdict]], champion: str | None) -> list[Verdict]:
    """One verdict per check for a window that one or more model versions served.

    Each version was judged against its own reference and holdout. The verdict shown is the champion's, or the
    newest failing version's when the champion passed or served nothing; a failure of a version that is no
    longer the champion is history: it fails with WARN and never retrains. ``versions`` in the metadata has each
    version's outcome.
    """
    if not by_version:
        raise ValueError("no model version to combine verdicts of")
    newest_first = sorted(by_version, key=version_order, reverse=True)
    combined = []
    for index, check in enumerate(DRIFT_CHECKS):
        verdicts = {version: by_version[version][index] for version in newest_first}
        failing = [version for version in newest_first if not verdicts[version].passed]
        if champion in failing:
            focus = champion
        elif failing:
            focus = failing[0]
        else:
            focus = champion if champion in verdicts else newest_first[0]
        chosen = verdicts[focus]
        outcomes = {
            version: {
                "passed": v.passed,
                "severity": None if v.passed else (v.severity if version == champion else WARN),
            }
            for version, v in verdicts.items()
        }
        combined.append(
            Verdict(
                check,
                passed=not failing,
                severity=chosen.severity if focus == champion else WARN,
                metadata={**chosen.metadata, "model_version": focus, "versions": outcomes},
            )
        )
    return combined


def version_order(version: str) -> tuple[int, str]:
    """Sort key of MLflow model versions: numerically (10 after 9)."""
    return (int(version), version) if version.isdigit() else (-1, version)
