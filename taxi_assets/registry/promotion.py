"""Promotion rules: does the challenger replace the champion? Pure, so every rule is testable alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from taxi_assets.registry.segment_gate import SegmentGate, SegmentRules

PROMOTE: Final = "promote"
REJECT: Final = "reject"
ROLLBACK: Final = "rollback"


@dataclass(frozen=True)
class PromotionRules:
    """Thresholds a challenger must meet."""

    min_rmse_improvement: float
    latency_tolerance_ratio: float
    latency_tolerance_ms: float
    # the segment gate's settings; None judges no segment
    segments: SegmentRules | None = None


@dataclass(frozen=True)
class Evidence:
    """What was measured for one model version on the shared holdout, in the same process."""

    version: str
    metrics: dict[str, float]
    p50_ms: float
    p99_ms: float
    checks: dict[str, bool] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Metrics, latency and check results as one record."""
        return {"version": self.version, **self.metrics, "p50_ms": self.p50_ms, "p99_ms": self.p99_ms} | {
            f"check_{name}": passed for name, passed in self.checks.items()
        }


@dataclass(frozen=True)
class Decision:
    """The outcome, a one-line reason, and each rule's result with the value and threshold applied."""

    action: str
    reason: str
    rules: dict[str, dict[str, Any]]


def decide(
    challenger: Evidence, champion: Evidence | None, rules: PromotionRules, segments: SegmentGate | None = None
) -> Decision:
    """Apply the rules: checks passed, RMSE improved enough, p99 latency within tolerance, no segment worse.

    A segment blocks when the challenger is materially and significantly worse for it (``segments``, the segment
    gate's result on the same holdout). With no champion, a challenger whose checks passed is promoted as the
    first champion: there is nothing to compare its segments with (its model card lists them).
    """
    results: dict[str, dict[str, Any]] = {
        "checks_passed": {
            "passed": bool(challenger.checks) and all(challenger.checks.values()),
            "value": challenger.checks,
            "threshold": "every check passed",
        }
    }
    if champion is None:
        passed = results["checks_passed"]["passed"]
        reason = (
            "no champion yet; the challenger's checks passed, so it becomes the first champion"
            if passed
            else f"no champion yet, but the challenger failed its checks: {failed_checks(challenger)}"
        )
        return Decision(action=PROMOTE if passed else REJECT, reason=reason, rules=results)

    improvement = champion.metrics["rmse"] - challenger.metrics["rmse"]
    results["rmse_improvement"] = {
        "passed": improvement >= rules.min_rmse_improvement,
        "value": improvement,
        "threshold": rules.min_rmse_improvement,
    }
    allowed = champion.p99_ms * (1.0 + rules.latency_tolerance_ratio) + rules.latency_tolerance_ms
    results["latency_p99"] = {
        "passed": challenger.p99_ms <= allowed,
        "value": challenger.p99_ms,
        "threshold": allowed,
    }
    if segments is not None:
        results["segments"] = segments.as_record()
    failed = [name for name, result in results.items() if not result["passed"]]
    if not failed:
        reason = (
            f"RMSE {challenger.metrics['rmse']:.3f} vs {champion.metrics['rmse']:.3f} "
            f"(improvement {improvement:.3f} >= {rules.min_rmse_improvement}), p99 {challenger.p99_ms:.3f} ms "
            f"<= {allowed:.3f} ms, checks passed"
            + (f", no segment worse ({segments.tests} tests)" if segments is not None else "")
        )
        return Decision(action=PROMOTE, reason=reason, rules=results)
    explanations = {
        "checks_passed": f"failed checks: {failed_checks(challenger)}",
        "rmse_improvement": f"RMSE improvement {improvement:.3f} < required {rules.min_rmse_improvement}",
        "latency_p99": f"p99 {challenger.p99_ms:.3f} ms > allowed {allowed:.3f} ms",
        "segments": segments.reason() if segments is not None else "",
    }
    return Decision(action=REJECT, reason="; ".join(explanations[name] for name in failed), rules=results)


def failed_checks(evidence: Evidence) -> str:
    """Names of the checks that failed (or "none recorded")."""
    if not evidence.checks:
        return "none recorded"
    return ", ".join(name for name, passed in evidence.checks.items() if not passed) or "none"
