"""A sequential test of champion against challenger on paired live losses, readable at any time.

On every trip both models scored (the challenger in shadow) whose true fare has arrived, the paired difference
``d = loss(champion) - loss(challenger)`` is positive where the challenger did better. The question is whether
its mean ``mu`` exceeds the promotion ``margin``, asked again each time labels arrive, without the repeated looks
inflating false promotions.

The answer is an always-valid confidence sequence: the normal-mixture boundary of the mixture SPRT (Robbins;
Johari, Pekelis and Walsh), with the variance estimated from the differences so far. With probability at least
``1 - alpha``, ``|mean_n - mu| <= radius_n`` holds for every ``n`` at once, where

    radius_n = sigma * sqrt(2 * (1 + n*rho) / (n**2 * rho) * ln(sqrt(1 + n*rho) / alpha))

and ``rho`` sets the label count the boundary is tightest near (``tuned_for``). So:

- promote when the lower bound is above the margin: a challenger no better than the margin is promoted with
  probability at most ``alpha``, however often the test is read;
- reject when the upper bound is below the margin: it cannot be better by the margin;
- time out at ``max_labels`` (keep the champion); decide nothing before ``min_labels`` (the variance estimate
  needs them).

Pure numpy. ``judge`` reads running sums (``Evidence``), updated as labels mature; ``first_decision`` walks a
whole sequence at once, for simulations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

PROMOTE: Final = "promote"
REJECT: Final = "reject"
CONTINUE: Final = "continue"
TIMEOUT: Final = "timeout"


# how much the labels must grow before the test looks again: an always-valid test may look at any moment, so fewer
# looks only delay a decision (by at most a quarter more labels) and spare the run queue a run every minute
LOOK_GROWTH: Final = 1.25


@dataclass(frozen=True)
class SequentialRule:
    """The test's level and limits. ``margin`` is in the loss's units (squared dollars for squared error)."""

    alpha: float = 0.05
    margin: float = 0.0
    min_labels: int = 200
    max_labels: int = 20_000
    tuned_for: int = 2_000

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), not {self.alpha}")
        if not 2 <= self.min_labels <= self.max_labels:
            raise ValueError(f"need 2 <= min_labels <= max_labels, not {self.min_labels} and {self.max_labels}")
        if self.tuned_for < 1:
            raise ValueError(f"tuned_for must be at least 1, not {self.tuned_for}")

    def look(self, labels: int) -> int | None:
        """The newest look due at ``labels`` labels, or None before ``min_labels`` (no decision can be due).

        Looks are at ``min_labels``, then each time the labels grew by ``LOOK_GROWTH`` over the last look, and at
        ``max_labels``, where a stage ends either way.
        """
        if labels < self.min_labels:
            return None
        if labels >= self.max_labels:
            return self.max_labels
        look = self.min_labels
        while (following := math.ceil(look * LOOK_GROWTH)) <= labels:
            look = following
        return look

    @property
    def rho(self) -> float:
        """The mixture's variance relative to the data's: the boundary is tightest near ``tuned_for`` labels."""
        return 1.0 / self.tuned_for


@dataclass(frozen=True)
class Evidence:
    """Running sums of the paired differences: enough to judge, and to add the labels that matured since."""

    labels: int = 0
    total: float = 0.0
    total_squares: float = 0.0

    def add(self, differences: np.ndarray) -> Evidence:
        """These sums with ``differences`` added (NaNs, pairs without a label, are left out)."""
        values = np.asarray(differences, dtype=np.float64)
        values = values[~np.isnan(values)]
        return Evidence(
            self.labels + int(values.size),
            self.total + float(values.sum()),
            self.total_squares + float(np.square(values).sum()),
        )

    @property
    def mean(self) -> float:
        """Mean difference (NaN without labels)."""
        return self.total / self.labels if self.labels else float("nan")

    @property
    def variance(self) -> float:
        """Sample variance of the differences (NaN under two labels)."""
        if self.labels < 2:
            return float("nan")
        return max(self.total_squares - self.labels * self.mean**2, 0.0) / (self.labels - 1)


@dataclass(frozen=True)
class Verdict:
    """Where the test stands: the decision, the labels it used, the mean difference and its confidence bounds."""

    decision: str
    labels: int
    mean: float
    low: float
    high: float
    margin: float
    alpha: float


def radius(labels: np.ndarray | int, variance: np.ndarray | float, rule: SequentialRule) -> np.ndarray:
    """Half-width of the always-valid ``1 - alpha`` confidence sequence after ``labels`` differences."""
    n = np.asarray(labels, dtype=np.float64)
    grown = 1.0 + n * rule.rho
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(
            np.asarray(variance, dtype=np.float64)
            * 2.0
            * grown
            / (n**2 * rule.rho)
            * np.log(np.sqrt(grown) / rule.alpha)
        )


def judge(evidence: Evidence, rule: SequentialRule) -> Verdict:
    """The decision the evidence so far supports."""
    width = float(radius(evidence.labels, evidence.variance, rule)) if evidence.labels >= 2 else float("inf")
    low, high = evidence.mean - width, evidence.mean + width
    decision = CONTINUE
    if evidence.labels >= rule.min_labels and low > rule.margin:
        decision = PROMOTE
    elif evidence.labels >= rule.min_labels and high < rule.margin:
        decision = REJECT
    elif evidence.labels >= rule.max_labels:
        decision = TIMEOUT
    return Verdict(decision, evidence.labels, evidence.mean, low, high, rule.margin, rule.alpha)


def first_decision(differences: np.ndarray, rule: SequentialRule) -> Verdict:
    """The first decision reached reading ``differences`` one label at a time (up to ``max_labels``).

    The same as calling ``judge`` after each label, computed at once from cumulative sums.
    """
    values = np.asarray(differences, dtype=np.float64)[: rule.max_labels]
    if values.size == 0:
        return judge(Evidence(), rule)
    n = np.arange(1, values.size + 1, dtype=np.float64)
    means = np.cumsum(values) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        variances = np.maximum(np.cumsum(values**2) - n * means**2, 0.0) / (n - 1)
    widths = radius(n, variances, rule)
    ready = n >= rule.min_labels
    decided = ready & ((means - widths > rule.margin) | (means + widths < rule.margin))
    if decided.any():
        at = int(np.argmax(decided))
        decision = PROMOTE if means[at] - widths[at] > rule.margin else REJECT
    else:
        at = values.size - 1
        decision = TIMEOUT if values.size >= rule.max_labels else CONTINUE
    return Verdict(
        decision, at + 1, float(means[at]), float(means[at] - widths[at]), float(means[at] + widths[at]),
        rule.margin, rule.alpha,
    )  # fmt: skip
