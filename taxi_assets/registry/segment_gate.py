"""The segment gate of a promotion: is the challenger worse than the champion for one group of trips?

Both models are scored on the same holdout rows. For every segment (``model.segments``: pickup and drop-off
borough, payment type, rate code, time of day, distance band) the gate puts their MAE and mean signed error
side by side, with paired bootstrap intervals. A segment with at least ``min_rows`` rows is judged by two tests:

* **accuracy**: the challenger's MAE minus the champion's, a mean of per-trip differences ``|e_c| - |e_h|``;
  one-sided, the challenger worse. It blocks when significant and at least ``margin_usd``.
* **charging**: how far the segment's mean signed error sits from the model's overall one (its *gap*: positive
  over-charges the segment against the rest). The challenger's gap minus the champion's is a linear function of
  the per-trip prediction differences; two-sided. It blocks when significant, the challenger's gap is beyond
  ``bias_line_usd`` and further out than the champion's by at least ``margin_usd``.

The p-values are normal (each segment judged has hundreds of trips); Holm's step-down procedure over every test of
the decision keeps the chance of blocking on any segment, when the models are equally good everywhere, at most
``alpha`` whatever the tests' dependence (both tests share rows, segments overlap). The false-block rate and the
power are measured by ``scripts/simulate_segment_gate.py``. The bootstrap intervals are shown, not tested: a 95 %
interval is per segment, the gate's level is for all of them together.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from taxi_assets.model.segments import UNKNOWN, segment_codes
from taxi_assets.registry.paired_tests import bootstrap_intervals, holm, one_sided_p, two_sided_p, variance

ACCURACY: Final = "accuracy"
CHARGING: Final = "charging"
METHOD: Final = "Holm step-down over every test of the decision (family-wise error at alpha), normal p-values"


@dataclass(frozen=True)
class SegmentRules:
    """When a segment is judged, what counts as material, and the family-wise level."""

    min_rows: int
    margin_usd: float
    bias_line_usd: float
    alpha: float
    resamples: int = 1_000
    seed: int = 0


@dataclass(frozen=True)
class SegmentResult:
    """One segment value: both models' MAE and signed error, the differences with intervals, the tests' verdicts.

    Differences are challenger minus champion. ``*_gap`` is a model's mean signed error in the segment minus its
    mean over all rows. ``*_p`` are NaN for a segment too small to judge.
    """

    segment: str
    value: str
    rows: int
    judged: bool
    challenger_mae: float
    champion_mae: float
    mae_difference: float
    mae_difference_low: float
    mae_difference_high: float
    challenger_bias: float
    champion_bias: float
    challenger_gap: float
    champion_gap: float
    gap_difference_low: float
    gap_difference_high: float
    accuracy_p: float = float("nan")
    charging_p: float = float("nan")
    blocked_by: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """``column=value``, as decisions and logs name a segment."""
        return f"{self.segment}={self.value}"


@dataclass(frozen=True)
class SegmentGate:
    """Every segment's comparison and the verdict: ``blocked`` names the segments that stop the promotion."""

    rules: SegmentRules
    results: list[SegmentResult]
    tests: int

    @property
    def blocked(self) -> list[SegmentResult]:
        """The segments for which the challenger is materially and significantly worse."""
        return [result for result in self.results if result.blocked_by]

    @property
    def passed(self) -> bool:
        """No segment blocks."""
        return not self.blocked

    def reason(self) -> str:
        """What blocked, in one line (empty when the gate passed)."""
        words = []
        for result in self.blocked:
            said = []
            if ACCURACY in result.blocked_by:
                said.append(
                    f"MAE ${result.challenger_mae:.2f} vs ${result.champion_mae:.2f} "
                    f"(+${result.mae_difference:.2f}, p={result.accuracy_p:.2g})"
                )
            if CHARGING in result.blocked_by:
                side = "over" if result.challenger_gap > 0 else "under"
                said.append(
                    f"{side}-charges it by ${abs(result.challenger_gap):.2f} against the rest vs "
                    f"${abs(result.champion_gap):.2f} (p={result.charging_p:.2g})"
                )
            words.append(f"{result.name} ({result.rows:,} rows): {'; '.join(said)}")
        return "worse for " + "; ".join(words) if words else ""

    def as_record(self) -> dict[str, Any]:
        """The rule's entry in a decision's record: verdict, settings, method and every segment's numbers."""
        return {
            "passed": self.passed,
            "value": [result.name for result in self.blocked],
            "threshold": asdict(self.rules) | {"method": METHOD},
            "tests": self.tests,
            "segments": [_rounded(asdict(result)) for result in self.results],
        }


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    return {
        key: (round(value, 6) if isinstance(value, float) and math.isfinite(value) else value)
        for key, value in row.items()
    } | {"blocked_by": list(row["blocked_by"])}


@dataclass(frozen=True)
class _Sums:
    """Per segment value: rows, and the sums the tests need."""

    rows: np.ndarray
    abs_c: np.ndarray
    abs_h: np.ndarray
    d: np.ndarray  # |e_c| - |e_h|
    d2: np.ndarray
    signed_c: np.ndarray
    signed_h: np.ndarray
    u: np.ndarray  # e_c - e_h: the prediction difference
    u2: np.ndarray

    @classmethod
    def of(cls, codes: np.ndarray, size: int, e_c: np.ndarray, e_h: np.ndarray) -> _Sums:
        def total(weights: np.ndarray | None = None) -> np.ndarray:
            return np.bincount(codes, weights=weights, minlength=size)[:size].astype(np.float64)

        d, u = np.abs(e_c) - np.abs(e_h), e_c - e_h
        return cls(
            total(),
            total(np.abs(e_c)),
            total(np.abs(e_h)),
            total(d),
            total(d * d),
            total(e_c),
            total(e_h),
            total(u),
            total(u * u),
        )


def segment_gate(
    rows: pd.DataFrame, actual: np.ndarray, challenger: np.ndarray, champion: np.ndarray, rules: SegmentRules
) -> SegmentGate:
    """Compare ``challenger``'s and ``champion``'s predictions of ``actual`` on ``rows``, segment by segment."""
    actual = np.asarray(actual, dtype=np.float64)
    e_c = np.asarray(challenger, dtype=np.float64) - actual
    e_h = np.asarray(champion, dtype=np.float64) - actual
    n_all = len(actual)
    mean_c, mean_h, mean_u = (float(e.mean()) if n_all else 0.0 for e in (e_c, e_h, e_c - e_h))
    u_all = e_c - e_h
    sum_u, sum_u2 = float(u_all.sum()), float((u_all * u_all).sum())
    rng = np.random.default_rng(rules.seed)
    draft: list[dict[str, Any]] = []
    for column, (codes, keys) in segment_codes(rows).items():
        s = _Sums.of(np.where(codes < 0, len(keys), codes), len(keys), e_c, e_h)
        for index in np.flatnonzero(s.rows).tolist():
            n = int(s.rows[index])
            if keys[index] == UNKNOWN and column in ("time_of_day", "distance_band"):
                continue
            mean_d = s.d[index] / n
            gap_c = s.signed_c[index] / n - mean_c
            gap_h = s.signed_h[index] / n - mean_h
            # the gap difference is (1 - n/N) (mean_s(u) - mean_rest(u)): its variance from both parts' spreads
            rest = n_all - n
            var_s = variance(s.u[index], s.u2[index], n)
            var_rest = variance(sum_u - s.u[index], sum_u2 - s.u2[index], rest) if rest > 1 else 0.0
            se_gap = (rest / n_all) * math.sqrt(var_s / n + (var_rest / rest if rest else 0.0))
            se_d = math.sqrt(variance(s.d[index], s.d2[index], n) / n)
            judged = n >= rules.min_rows
            in_segment = np.flatnonzero(codes == index) if rules.resamples else np.array([], dtype=np.intp)
            low_d, high_d, low_g, high_g = bootstrap_intervals(in_segment, e_c, e_h, mean_u, rules.resamples, rng)
            draft.append(
                {
                    "segment": column,
                    "value": keys[index],
                    "rows": n,
                    "judged": judged,
                    "challenger_mae": s.abs_c[index] / n,
                    "champion_mae": s.abs_h[index] / n,
                    "mae_difference": mean_d,
                    "mae_difference_low": low_d,
                    "mae_difference_high": high_d,
                    "challenger_bias": s.signed_c[index] / n,
                    "champion_bias": s.signed_h[index] / n,
                    "challenger_gap": gap_c,
                    "champion_gap": gap_h,
                    "gap_difference_low": low_g,
                    "gap_difference_high": high_g,
                    "accuracy_p": one_sided_p(mean_d, se_d) if judged else float("nan"),
                    "charging_p": two_sided_p(gap_c - gap_h, se_gap) if judged else float("nan"),
                }
            )
    return _judged(draft, rules)


def _judged(draft: list[dict[str, Any]], rules: SegmentRules) -> SegmentGate:
    """Holm's step-down over both tests of every judged segment, then the material conditions."""
    tests = [(i, ACCURACY, row["accuracy_p"]) for i, row in enumerate(draft) if row["judged"]]
    tests += [(i, CHARGING, row["charging_p"]) for i, row in enumerate(draft) if row["judged"]]
    significant = holm([p for _, _, p in tests], rules.alpha)
    blocks: dict[int, list[str]] = {}
    for (i, test, _), rejected in zip(tests, significant, strict=True):
        row = draft[i]
        if not rejected:
            continue
        if test == ACCURACY and row["mae_difference"] >= rules.margin_usd:
            blocks.setdefault(i, []).append(ACCURACY)
        further = abs(row["challenger_gap"]) - abs(row["champion_gap"])
        if test == CHARGING and abs(row["challenger_gap"]) > rules.bias_line_usd and further >= rules.margin_usd:
            blocks.setdefault(i, []).append(CHARGING)
    results = [
        SegmentResult(**{key: _plain(value) for key, value in row.items()}, blocked_by=tuple(blocks.get(i, ())))
        for i, row in enumerate(draft)
    ]
    return SegmentGate(rules, results, len(tests))


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, np.floating) else value
