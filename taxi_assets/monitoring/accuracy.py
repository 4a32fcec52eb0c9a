"""Accuracy on matured labels, judged against the champion's own holdout errors at the window's label count.

A window's labels are a sample: a few hundred trips vary by chance, and taxi fares are heavy-tailed (a $300
negotiated fare predicted at $39 moves a 500-label RMSE by 0.6 USD on its own). So the threshold is not a fixed
margin over the holdout score but the score a window *of that many labels* reaches by chance under no change:
the ``1 - alpha`` quantile of the statistic over seeded bootstrap windows drawn from the holdout errors. A
window fails only when its score is over that quantile (significant) *and* worse than the holdout's by at least
``min_effect`` dollars and ``min_relative_effect`` of the holdout's value (material: months of the same fares differ
by a few tens of cents, and a service or segment with larger errors needs a larger margin).

Statistic: mean absolute error by default (``DEFAULT_STATISTIC``). ``make calibrate`` measures the candidates
(MAE, RMSE, an RMSE with errors winsorised at the holdout's 99th percentile, a Huber loss and the absolute bias)
on real months; RMSE stays reported. Direction: higher is worse for every statistic.

Segments (pickup borough, payment type) use the same calibration on the holdout rows of that segment, with the
significance level divided by the number of segments tested (Bonferroni), so testing a dozen segments does not
multiply the false alarms by a dozen.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pandas as pd

from taxi_assets import constants
from taxi_assets.model.evaluation import Z_95
from taxi_assets.model.holdout import ERROR, SEGMENTS, segment_keys

DEFAULT_STATISTIC: Final = constants.ACCURACY_STATISTIC
WINSOR_QUANTILE: Final = 0.99
HUBER_QUANTILE: Final = 0.9
# Label counts are rounded down to this geometric grid for segments, so a threshold is bootstrapped once per grid
# point; rounding down only raises the threshold (fewer labels vary more).
SEGMENT_GRID: Final = tuple(int(25 * 1.5**k) for k in range(16))
# Above this many labels the bootstrap is not redrawn: its excess over the holdout value at this size is scaled by
# sqrt(BOOTSTRAP_UP_TO / labels), the law of a mean of per-trip losses (what every statistic here is built on).
BOOTSTRAP_UP_TO: Final = 20_000


@dataclass(frozen=True)
class Statistic:
    """A window statistic ``finish(mean(loss(error)))``; its loss parameter is fixed on the holdout."""

    name: str
    loss: Callable[[np.ndarray], np.ndarray]
    finish: Callable[[np.ndarray], np.ndarray]

    def of(self, errors: np.ndarray) -> float:
        """The statistic on one set of errors (prediction - actual); NaN when empty."""
        if errors.size == 0:
            return float("nan")
        return float(self.finish(np.asarray(self.loss(errors).mean())))


def make_statistic(name: str, holdout_errors: np.ndarray) -> Statistic:
    """One of ``mae``, ``rmse``, ``winsorised_rmse``, ``huber``, ``abs_bias``, its cut-offs from the holdout.

    Raises:
        ValueError: an unknown statistic.
    """
    scale = np.abs(holdout_errors)
    if name == "mae":
        return Statistic(name, np.abs, np.asarray)
    if name == "rmse":
        return Statistic(name, np.square, np.sqrt)
    if name == "winsorised_rmse":
        cut = float(np.quantile(scale, WINSOR_QUANTILE))
        return Statistic(name, lambda e: np.minimum(np.abs(e), cut) ** 2, np.sqrt)
    if name == "huber":
        delta = float(np.quantile(scale, HUBER_QUANTILE))
        return Statistic(
            name, lambda e: np.where(np.abs(e) <= delta, 0.5 * e**2, delta * (np.abs(e) - 0.5 * delta)), np.asarray
        )
    if name == "abs_bias":
        return Statistic(name, np.asarray, np.abs)
    raise ValueError(f"unknown accuracy statistic {name!r}: use one of {', '.join(STATISTICS)}")


STATISTICS: Final = ("mae", "rmse", "winsorised_rmse", "huber", "abs_bias")


@dataclass(frozen=True)
class AccuracyRule:
    """How a window's accuracy is judged."""

    statistic: str = DEFAULT_STATISTIC
    alpha: float = constants.ACCURACY_ALPHA
    min_effect: float = constants.ACCURACY_MIN_EFFECT_USD
    min_relative_effect: float = constants.ACCURACY_MIN_RELATIVE_EFFECT
    min_labels: int = constants.MIN_LABELLED_ROWS
    min_segment_labels: int = constants.MIN_SEGMENT_LABELS
    resamples: int = constants.BOOTSTRAP_RESAMPLES
    seed: int = constants.BOOTSTRAP_SEED
    # a window this share short of ``min_labels`` is still judged (a few refused or lost fares must not leave it
    # unjudged); the noise limit is calibrated at the labels it has, so the judgement stays honest
    label_tolerance: float = constants.LABEL_TOLERANCE

    @property
    def labels_needed(self) -> int:
        """The fewest matured labels a window is judged on: ``min_labels`` less the tolerance, rounded up."""
        return math.ceil(self.min_labels * (1.0 - self.label_tolerance) - 1e-9)


@dataclass(frozen=True)
class AccuracyVerdict:
    """One set of labels (the window or a segment of it) against the holdout, with what was applied."""

    statistic: str
    labels: int
    value: float
    baseline: float
    noise_limit: float
    min_effect: float
    alpha: float
    effect: float
    effect_low: float
    effect_high: float

    @property
    def threshold(self) -> float:
        """The value over which the window fails: over chance at its size and materially worse."""
        return max(self.noise_limit, self.baseline + self.min_effect)

    @property
    def degraded(self) -> bool:
        """True when the value is over the threshold (NaN, no labels, is never degraded)."""
        return bool(self.value > self.threshold)


@dataclass(frozen=True)
class SegmentVerdict:
    """A segment value (e.g. pickup_borough=Queens) judged at the Bonferroni level of its family."""

    segment: str
    value: str
    verdict: AccuracyVerdict


@dataclass(frozen=True)
class AccuracyJudgement:
    """The window overall, and each segment with enough labels in the window and the holdout."""

    overall: AccuracyVerdict
    segments: tuple[SegmentVerdict, ...] = field(default_factory=tuple)
    judged: bool = True

    def degraded_segments(self) -> list[str]:
        """``segment=value`` of the degraded segments."""
        return [f"{s.segment}={s.value}" for s in self.segments if s.verdict.degraded]


class HoldoutCalibration:
    """The champion's holdout errors (with segment columns) and the bootstrap thresholds derived from them."""

    def __init__(self, holdout: pd.DataFrame, rule: AccuracyRule) -> None:
        """``holdout`` has an ``error`` column (prediction - actual) and optionally segment columns."""
        if holdout.empty:
            raise ValueError("the holdout has no errors to calibrate accuracy on")
        self.holdout = holdout.reset_index(drop=True)
        self.rule = rule
        errors = self.holdout[ERROR].to_numpy(dtype=np.float64)
        self.statistic = make_statistic(rule.statistic, errors)
        self._losses: dict[tuple[str, str], np.ndarray] = {("", ""): self.statistic.loss(errors)}
        self._limits: dict[tuple[str, str, int, float], float] = {}
        # the holdout's segment keys, once: every segment value of every window is looked up in them
        self._keys = {name: segment_keys(self.holdout[name].to_numpy()) for name in SEGMENTS if name in self.holdout}

    def _segment_losses(self, segment: str, value: str) -> np.ndarray:
        key = (segment, value)
        if key not in self._losses:
            picked = self._keys[segment] == value
            self._losses[key] = self.statistic.loss(self.holdout[ERROR].to_numpy(dtype=np.float64)[picked])
        return self._losses[key]

    def baseline(self, segment: str = "", value: str = "") -> float:
        """The statistic on the whole holdout (or one segment of it)."""
        losses = self._losses[("", "")] if not segment else self._segment_losses(segment, value)
        return float(self.statistic.finish(np.asarray(losses.mean())))

    def noise_limit(self, labels: int, alpha: float, segment: str = "", value: str = "") -> float:
        """The ``1 - alpha`` quantile of the statistic over bootstrap windows of ``labels`` holdout rows."""
        key = (segment, value, labels, alpha)
        if key not in self._limits:
            losses = self._losses[("", "")] if not segment else self._segment_losses(segment, value)
            self._limits[key] = self._quantile(losses, labels, alpha)
        return self._limits[key]

    def _quantile(self, losses: np.ndarray, labels: int, alpha: float) -> float:
        if labels > BOOTSTRAP_UP_TO:
            baseline = float(self.statistic.finish(np.asarray(losses.mean())))
            excess = self._quantile(losses, BOOTSTRAP_UP_TO, alpha) - baseline
            return baseline + excess * float(np.sqrt(BOOTSTRAP_UP_TO / labels))
        # seeded per size, so a threshold does not depend on which sizes were asked for before
        rng = np.random.default_rng([self.rule.seed, labels])
        means = np.empty(self.rule.resamples)
        chunk = max(1, 2_000_000 // labels)
        for start in range(0, self.rule.resamples, chunk):
            stop = min(start + chunk, self.rule.resamples)
            means[start:stop] = losses[rng.integers(0, losses.size, size=(stop - start, labels))].mean(axis=1)
        return float(np.quantile(self.statistic.finish(means), 1 - alpha, method="higher"))

    def material(self, baseline: float) -> float:
        """The least loss that counts: ``min_effect`` dollars, or ``min_relative_effect`` of the baseline if more."""
        return max(self.rule.min_effect, self.rule.min_relative_effect * baseline)

    def verdict(
        self, errors: np.ndarray, alpha: float, segment: str = "", value: str = "", limit_labels: int | None = None
    ) -> AccuracyVerdict:
        """Judge one set of window errors against the holdout (or its segment) at level ``alpha``.

        The noise limit is taken at ``limit_labels`` (default: the number of errors).
        """
        labels = int(errors.size)
        baseline = self.baseline(segment, value)
        if labels == 0:
            nan = float("nan")
            name, effect = self.statistic.name, self.material(baseline)
            return AccuracyVerdict(name, 0, nan, baseline, nan, effect, alpha, nan, nan, nan)
        losses = self.statistic.loss(errors)
        mean = float(losses.mean())
        value_now = float(self.statistic.finish(np.asarray(mean)))
        low, high = self._interval(mean, float(losses.std(ddof=1)) / np.sqrt(labels) if labels > 1 else float("nan"))
        return AccuracyVerdict(
            statistic=self.statistic.name,
            labels=labels,
            value=value_now,
            baseline=baseline,
            noise_limit=self.noise_limit(limit_labels or labels, alpha, segment, value),
            min_effect=self.material(baseline),
            alpha=alpha,
            effect=value_now - baseline,
            effect_low=low - baseline,
            effect_high=high - baseline,
        )

    def _interval(self, mean: float, standard_error: float) -> tuple[float, float]:
        """95 % normal interval of the mean loss, mapped through the finishing function."""
        low_mean, high_mean = mean - Z_95 * standard_error, mean + Z_95 * standard_error
        if self.statistic.name == "abs_bias":
            ends = sorted((abs(low_mean), abs(high_mean)))
            return (0.0 if low_mean < 0 < high_mean else ends[0]), ends[1]
        finish = self.statistic.finish
        return float(finish(np.asarray(max(low_mean, 0.0)))), float(finish(np.asarray(high_mean)))

    def judge(self, errors: np.ndarray, segments: Mapping[str, np.ndarray]) -> AccuracyJudgement:
        """The window overall at ``alpha``, and its segments at ``alpha / segments tested``."""
        overall = self.verdict(errors, self.rule.alpha)
        tested: list[tuple[str, str, np.ndarray]] = []
        for segment, values in segments.items():
            if segment not in self._keys:
                continue
            keys = segment_keys(np.asarray(values))
            for value in sorted(set(keys.tolist())):
                picked = errors[keys == value]
                if picked.size >= self.rule.min_segment_labels and (
                    self._segment_losses(segment, value).size >= self.rule.min_segment_labels
                ):
                    tested.append((segment, value, picked))
        level = self.rule.alpha / max(len(tested), 1)
        verdicts = tuple(
            SegmentVerdict(segment, value, self._segment_verdict(picked, level, segment, value))
            for segment, value, picked in tested
        )
        return AccuracyJudgement(overall, verdicts, judged=errors.size >= self.rule.labels_needed)

    def _segment_verdict(self, errors: np.ndarray, alpha: float, segment: str, value: str) -> AccuracyVerdict:
        grid = max((n for n in SEGMENT_GRID if n <= errors.size), default=errors.size)
        return self.verdict(errors, alpha, segment, value, limit_labels=grid)
