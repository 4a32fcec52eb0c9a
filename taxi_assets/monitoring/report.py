"""One monitoring window against the reference profile, in one frozen result.

Every drift statistic, prediction drift, the validation-failure rate and accuracy on matured labels.

Pure: takes a DataFrame of logged rows (the 12 features, ``prediction``, ``actual_fare`` where the ground
truth has arrived) and the counts of rejected requests; the asset reads those from the prediction log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pandas as pd

from taxi_assets.features.categories import counts_of_codes, factorize_keys
from taxi_assets.features.columns import BINARY_FEATURES, CATEGORICAL_FEATURES, NUMERIC_FEATURES, category_key
from taxi_assets.model.profile import DISCRETE_FEATURES, NumericProfile, ReferenceProfile
from taxi_assets.monitoring.accuracy import AccuracyJudgement, HoldoutCalibration
from taxi_assets.monitoring.attribution import Attribution
from taxi_assets.monitoring.breakdowns import (
    PREDICTION,
    Distribution,
    SegmentAccuracy,
    distributions_from_counts,
    labelled_accuracy,
)
from taxi_assets.monitoring.chi_square import CHI2_P_THRESHOLD, ChiSquareResult, chi_square_test
from taxi_assets.monitoring.jensen_shannon import JS_THRESHOLD, DivergenceResult, categorical_divergence
from taxi_assets.monitoring.ks import KS_P_THRESHOLD, KsResult, ks_from_counts, value_counts
from taxi_assets.monitoring.psi import DRIFT_ALPHA, PSI_THRESHOLD, PsiResult, binned_counts, category_psi, numeric_psi

CONTINUOUS_FEATURES: Final = tuple(name for name in NUMERIC_FEATURES if name not in DISCRETE_FEATURES)
# Calendar features drift by construction against a reference of other months: reported, not counted.
NOT_COUNTED_BY_DEFAULT: Final = ("pickup_month",)
# A window shorter than a week cannot hold the reference's mix of weekdays (rush hour is a weekday's), and one
# shorter than a day cannot hold its mix of hours: against a whole-month reference they would drift by
# construction, so such windows leave them out of the count (they are still reported).
WEEK_FEATURES: Final = ("pickup_day_of_week", "is_weekend", "is_rush_hour")
DAY_FEATURES: Final = ("pickup_hour",)
MINUTES_PER_DAY: Final = 24 * 60


def not_counted_for(window_minutes: float) -> tuple[str, ...]:
    """The features a window of ``window_minutes`` reports but does not count towards feature drift."""
    out = list(NOT_COUNTED_BY_DEFAULT)
    if window_minutes < 7 * MINUTES_PER_DAY:
        out += WEEK_FEATURES
    if window_minutes < MINUTES_PER_DAY:
        out += DAY_FEATURES
    return tuple(out)


@dataclass(frozen=True)
class Thresholds:
    """The thresholds a report applies (each result carries the one used)."""

    psi: float = PSI_THRESHOLD
    js: float = JS_THRESHOLD
    ks_p: float = KS_P_THRESHOLD
    chi2_p: float = CHI2_P_THRESHOLD
    prediction_psi: float = PSI_THRESHOLD
    # significance level of each feature's chance quantile (PSI and JS)
    alpha: float = DRIFT_ALPHA


@dataclass(frozen=True)
class DriftReport:
    """Everything measured on one window."""

    rows: int
    rejected: int
    psi: dict[str, PsiResult]
    divergence: dict[str, DivergenceResult]
    ks: dict[str, KsResult]
    chi_square: dict[str, ChiSquareResult]
    prediction: PsiResult | None
    labelled_rows: int
    accuracy: SegmentAccuracy
    accuracy_by_segment: dict[str, dict[str, SegmentAccuracy]]
    counted_features: tuple[str, ...]
    thresholds: Thresholds = field(default_factory=Thresholds)
    # accuracy against the champion's holdout at this window's label count (None without holdout errors)
    calibrated: AccuracyJudgement | None = None
    # each feature's shares in the window beside the reference's, for people to look at (judges nothing)
    distributions: dict[str, Distribution] = field(default_factory=dict)
    # what drives the version's fares in the window against at training (None without its trees)
    attribution: Attribution | None = None

    @property
    def validation_failure_rate(self) -> float:
        """Rejected requests as a share of all requests in the window (NaN with none)."""
        total = self.rows + self.rejected
        return self.rejected / total if total else float("nan")

    def drifted_features(self) -> list[str]:
        """Counted features over their threshold: PSI for every feature, JS too for categoricals."""
        drifted = []
        for name in self.counted_features:
            over_psi = name in self.psi and self.psi[name].drifted
            over_js = name in self.divergence and self.divergence[name].drifted
            if over_psi or over_js:
                drifted.append(name)
        return drifted

    def largest_psi(self) -> tuple[str, float]:
        """The feature with the largest PSI (NaNs ignored) and its value."""
        judged = {name: result.value for name, result in self.psi.items() if result.judged}
        if not judged:
            return "", float("nan")
        name = max(judged, key=judged.__getitem__)
        return name, judged[name]

    def to_markdown(self) -> str:
        """A table a person reads at a glance in the Dagster UI."""
        lines = ["| feature | PSI | JS | KS p | chi2 p | drifted |", "|---|---:|---:|---:|---:|:---:|"]
        drifted = set(self.drifted_features())
        for name in (*NUMERIC_FEATURES, *BINARY_FEATURES, *CATEGORICAL_FEATURES):
            psi = self.psi.get(name)
            js = self.divergence.get(name)
            ks = self.ks.get(name)
            chi = self.chi_square.get(name)
            mark = "yes" if name in drifted else ("(not counted)" if name not in self.counted_features else "")
            lines.append(
                f"| {name} | {_fmt(psi.value if psi else None)} | {_fmt(js.js if js else None)} | "
                f"{_fmt(ks.p_value if ks else None)} | {_fmt(chi.p_value if chi else None)} | {mark} |"
            )
        if self.prediction is not None:
            lines.append(f"| **prediction** | {_fmt(self.prediction.value)} | | | | |")
        lines.append("")
        lines.append(
            f"Rows {self.rows:,}, rejected {self.rejected:,} ({_fmt(self.validation_failure_rate)}), labelled "
            f"{self.labelled_rows:,}: RMSE {_fmt(self.accuracy.rmse)}, MAE {_fmt(self.accuracy.mae)}, "
            f"bias {_fmt(self.accuracy.bias)}"
        )
        if self.calibrated is not None:
            o = self.calibrated.overall
            lines.append(
                f"Calibrated accuracy: {o.statistic} {_fmt(o.value)} vs threshold {_fmt(o.threshold)} (holdout "
                f"{_fmt(o.baseline)}, chance limit at {o.labels:,} labels {_fmt(o.noise_limit)}); effect "
                f"{_fmt(o.effect)} [{_fmt(o.effect_low)}, {_fmt(o.effect_high)}]; degraded segments: "
                f"{', '.join(self.calibrated.degraded_segments()) or 'none'}"
            )
        return "\n".join(lines)


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return "n/a" if np.isnan(value) else f"{value:.4f}"


def _keyed(values: np.ndarray, counts: np.ndarray) -> dict[str, int]:
    """Counts per category key (1.0 and 1 are the same category "1")."""
    keyed: dict[str, int] = {}
    for value, count in zip(values.tolist(), counts.tolist(), strict=True):
        key = category_key(value)
        keyed[key] = keyed.get(key, 0) + int(count)
    return keyed


@dataclass(frozen=True)
class _FeatureDrift:
    psi: dict[str, PsiResult]
    divergence: dict[str, DivergenceResult]
    ks: dict[str, KsResult]
    chi_square: dict[str, ChiSquareResult]
    # the window's counts the statistics were computed from, for the report's distributions
    binned: dict[str, np.ndarray] = field(default_factory=dict)
    by_value: dict[str, dict[str, int]] = field(default_factory=dict)
    # each category column's rows as codes into its keys (``factorize_keys``), for the segments' accuracy
    coded: dict[str, tuple[np.ndarray, list[str]]] = field(default_factory=dict)


def _feature_drift(
    profile: ReferenceProfile, window: pd.DataFrame, reference_sample: pd.DataFrame | None, limits: Thresholds
) -> _FeatureDrift:
    """Every statistic of every feature; numeric ones from one hash count per feature (bins, shares and KS)."""
    m, alpha = profile.rows, limits.alpha
    drift = _FeatureDrift({}, {}, {}, {})
    categorical = (*BINARY_FEATURES, *CATEGORICAL_FEATURES)
    window_counts = {name: value_counts(window[name].to_numpy()) for name in NUMERIC_FEATURES}
    drift.coded.update({name: factorize_keys(window[name], missing=False) for name in categorical})
    for name in CONTINUOUS_FEATURES:
        distinct, occurrences = window_counts[name]
        reference = profile.numeric[name]
        binned = binned_counts(distinct, np.asarray(reference.edges), occurrences)
        drift.binned[name] = binned
        drift.psi[name] = numeric_psi(name, reference.edges, reference.shares, binned, limits.psi, m, alpha)
    for name in DISCRETE_FEATURES:
        shares = profile.discrete[name].shares if name in profile.discrete else {}
        drift.by_value[name] = _keyed(*window_counts[name])
        drift.psi[name] = category_psi(name, shares, drift.by_value[name], limits.psi, m, alpha)
    if reference_sample is not None:
        for name in NUMERIC_FEATURES:
            sample_counts = value_counts(reference_sample[name].to_numpy())
            drift.ks[name] = ks_from_counts(name, sample_counts, window_counts[name], limits.ks_p)
    for name in categorical:
        shares = profile.categorical[name].shares
        counts = drift.by_value[name] = counts_of_codes(*drift.coded[name])
        drift.psi[name] = category_psi(name, shares, counts, limits.psi, m, alpha)
        drift.divergence[name] = categorical_divergence(name, shares, counts, limits.js, m, alpha)
        reference_counts = {key: round(share * profile.rows) for key, share in shares.items()}
        drift.chi_square[name] = chi_square_test(name, reference_counts, counts, limits.chi2_p)
    return drift


def _prediction_drift(
    window: pd.DataFrame,
    reference: NumericProfile | None,
    reference_rows: int | None,
    limits: Thresholds,
    drift: _FeatureDrift,
) -> PsiResult | None:
    if reference is None or PREDICTION not in window:
        return None
    predicted = window[PREDICTION].to_numpy(dtype=np.float64)
    predicted = predicted[~np.isnan(predicted)] if np.isnan(predicted).any() else predicted
    binned = drift.binned[PREDICTION] = binned_counts(predicted, np.asarray(reference.edges))
    return numeric_psi(
        PREDICTION, reference.edges, reference.shares, binned, limits.prediction_psi, reference_rows, limits.alpha
    )


def compute_drift_report(
    profile: ReferenceProfile,
    window: pd.DataFrame,
    rejected: int,
    reference_sample: pd.DataFrame | None = None,
    prediction_reference: NumericProfile | None = None,
    thresholds: Thresholds | None = None,
    not_counted: tuple[str, ...] = NOT_COUNTED_BY_DEFAULT,
    calibration: HoldoutCalibration | None = None,
    prediction_reference_rows: int | None = None,
    labelled: pd.DataFrame | None = None,
) -> DriftReport:
    """Compare one window of logged rows with the reference profile.

    Drift statistics account for the window's size against the profile's rows (and the prediction reference's
    ``prediction_reference_rows``); with a ``calibration``, accuracy is judged against the champion's holdout.
    Accuracy is measured on the labelled rows of ``labelled`` (a trailing period) when given, else of ``window``.
    """
    limits = thresholds or Thresholds()
    drift = _feature_drift(profile, window, reference_sample, limits)
    prediction = _prediction_drift(window, prediction_reference, prediction_reference_rows, limits, drift)
    # the window's segments are coded already; a separate labelled period is coded here
    accuracy = (
        labelled_accuracy(window, calibration, drift.coded)
        if labelled is None
        else labelled_accuracy(labelled, calibration, {})
    )
    return DriftReport(
        rows=len(window),
        rejected=rejected,
        psi=drift.psi,
        divergence=drift.divergence,
        ks=drift.ks,
        chi_square=drift.chi_square,
        prediction=prediction,
        labelled_rows=accuracy.labelled_rows,
        accuracy=accuracy.overall,
        accuracy_by_segment=accuracy.by_segment,
        counted_features=tuple(name for name in drift.psi if name not in not_counted),
        thresholds=limits,
        calibrated=accuracy.calibrated,
        distributions=distributions_from_counts(profile, drift.binned, drift.by_value, prediction_reference),
    )
