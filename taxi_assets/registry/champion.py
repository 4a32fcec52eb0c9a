"""Champion changes without Dagster: compare on one holdout, decide, move the aliases, record, tag and alert.

``compare`` scores the challenger and the champion on the same rows in the same process (metrics, single-row
latency, the checks recorded on each version) and applies the rules of ``promotion.py``. ``apply_decision``
carries a decision out: on a promotion the aliases move (the old champion becomes ``previous_champion``), and
every decision, promote or reject, is recorded in ``promotion_decisions`` and tagged on the challenger's
version. ``rollback`` moves ``champion`` back and records that too. Each returns what its caller reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from taxi_assets.alerting import Alert, Kind, Severity
from taxi_assets.errors import MissingInputError
from taxi_assets.features.columns import TARGET
from taxi_assets.model.checks import BEHAVIOUR_CHECK, PARITY_CHECK
from taxi_assets.model.evaluation import regression_metrics, rmse_by_segment
from taxi_assets.model.probes import Latency, single_row_latency
from taxi_assets.model.versions import CHALLENGER, CHAMPION, PREVIOUS_CHAMPION, ModelRegistry
from taxi_assets.registry.cards import note_decision
from taxi_assets.registry.decisions import DecisionRecord, DecisionStore
from taxi_assets.registry.promotion import PROMOTE, REJECT, ROLLBACK, Decision, Evidence, PromotionRules, decide
from taxi_assets.registry.segment_gate import segment_gate

CHECKS = (PARITY_CHECK, BEHAVIOUR_CHECK)
LATENCY_ROWS = 500


@dataclass(frozen=True)
class Comparison:
    """Both models' evidence on one holdout, and the decision the rules give."""

    name: str
    challenger: Evidence
    champion: Evidence | None
    decision: Decision
    holdout_label: str
    holdout_rows: int

    @property
    def promoted(self) -> bool:
        """Whether the challenger replaces the champion."""
        return self.decision.action == PROMOTE


def evidence(
    registry: ModelRegistry, name: str, version: str, holdout: pd.DataFrame, predicted: np.ndarray, latency: Latency
) -> Evidence:
    """Metrics of ``predicted`` on the holdout plus the check results recorded on the version."""
    actual = holdout[TARGET].to_numpy()
    metrics = regression_metrics(actual, predicted).as_dict()
    metrics |= {
        f"rmse_{b}": value for b, value in rmse_by_segment(actual, predicted, holdout["pickup_borough"]).items()
    }
    tags = registry.version_tags(name, version)
    checks = {check: tags.get(f"check.{check}") == "passed" for check in CHECKS}
    return Evidence(version=version, metrics=metrics, p50_ms=latency.p50_ms, p99_ms=latency.p99_ms, checks=checks)


def require_challenger(registry: ModelRegistry, name: str) -> str:
    """The version the ``challenger`` alias points at.

    Raises:
        MissingInputError: ``name`` has no challenger.
    """
    version = registry.alias(name, CHALLENGER)
    if version is None:
        raise MissingInputError(f"{name} has no '{CHALLENGER}' version; materialize challenger_model first")
    return version


def compare(
    registry: ModelRegistry,
    name: str,
    challenger_version: str,
    holdout: tuple[pd.DataFrame, str],
    rules: PromotionRules,
    latency_repeats: int,
) -> Comparison:
    """Score ``challenger_version`` and the ``champion`` (when there is one) on the labelled ``holdout``, and decide.

    With a champion and segment rules, both models' predictions on the same rows go through the segment gate.
    """
    rows, label = holdout
    champion_version = registry.alias(name, CHAMPION)
    versions = {"challenger": challenger_version} | ({"champion": champion_version} if champion_version else {})
    models = {role: registry.load_fare_model(name, version) for role, version in versions.items()}
    latency = single_row_latency(models, rows.head(LATENCY_ROWS), latency_repeats)
    predicted = {role: model.predict(rows) for role, model in models.items()}
    measured = {
        role: evidence(registry, name, version, rows, predicted[role], latency[role])
        for role, version in versions.items()
    }
    champion = measured.get("champion")
    gate = None
    if champion is not None and rules.segments is not None and champion_version != challenger_version:
        actual = rows[TARGET].to_numpy()
        gate = segment_gate(rows, actual, predicted["challenger"], predicted["champion"], rules.segments)
    decision = decide(measured["challenger"], champion, rules, gate)
    if champion_version == challenger_version:
        decision = Decision(action=REJECT, reason="the challenger is already the champion", rules=decision.rules)
    return Comparison(name, measured["challenger"], champion, decision, label, len(rows))


def apply_decision(
    registry: ModelRegistry, store: DecisionStore, service: str, comparison: Comparison, dagster_run_id: str
) -> tuple[DecisionRecord, int]:
    """Move the aliases on a promotion; record and tag every decision. Returns the record and its id."""
    name, challenger, champion = comparison.name, comparison.challenger, comparison.champion
    champion_version = champion.version if champion else None
    if comparison.promoted:
        if champion_version:
            registry.set_alias(name, PREVIOUS_CHAMPION, champion_version)
        registry.set_alias(name, CHAMPION, challenger.version)
        registry.delete_alias(name, CHALLENGER)
    decision = comparison.decision
    record = DecisionRecord(
        service=service,
        model_name=name,
        action=decision.action,
        reason=decision.reason,
        challenger_version=challenger.version,
        champion_version=champion_version,
        new_champion_version=challenger.version if comparison.promoted else champion_version,
        rules=decision.rules | {"holdout": comparison.holdout_label, "holdout_rows": comparison.holdout_rows},
        challenger_metrics=challenger.as_dict(),
        champion_metrics=champion.as_dict() if champion else {},
        dagster_run_id=dagster_run_id,
        decided_at=datetime.now(UTC),
    )
    decision_id = store.record(record)
    registry.tag_version(
        name,
        challenger.version,
        {
            "decision": decision.action,
            "decision.reason": decision.reason,
            "decision.compared_with": champion_version or "none",
            "decision.at": record.decided_at.isoformat(),
            "decision.dagster_run_id": dagster_run_id,
            "decision.id": str(decision_id),
        },
    )
    note_decision(registry, record, challenger.version, decision_id)
    return record, decision_id


def decision_alert(service: str, comparison: Comparison, record: DecisionRecord, dagster_run_id: str) -> Alert:
    """The alert of a decision: INFO for a promotion or a rollout stage entered, WARNING for a rejection."""
    challenger, champion = comparison.challenger, comparison.champion
    verb = {PROMOTE: "promoted", REJECT: "rejected"}.get(record.action, f"enters {record.action}")
    details: dict[str, Any] = {
        "reason": comparison.decision.reason,
        "champion_before": record.champion_version or "none",
        "champion_after": record.new_champion_version or "none",
        "challenger_rmse": round(challenger.metrics["rmse"], 4),
        "champion_rmse": round(champion.metrics["rmse"], 4) if champion else None,
        "holdout": f"{comparison.holdout_label} ({comparison.holdout_rows} rows)",
        "dagster_run_id": dagster_run_id,
    }
    kind = {PROMOTE: Kind.PROMOTED, REJECT: Kind.REJECTED}.get(record.action, Kind.ROLLOUT)
    return Alert(
        Severity.WARNING if record.action == REJECT else Severity.INFO,
        kind,
        service,
        f"{comparison.name}: challenger v{challenger.version} {verb}",
        details,
    )


@dataclass(frozen=True)
class Rollback:
    """A rollback carried out: the champion before and after, and the decision's id."""

    current: str
    previous: str
    decision_id: int

    @property
    def reason(self) -> str:
        """One line for the log, the record and the alert."""
        return f"rollback: champion v{self.current} replaced by previous champion v{self.previous}"


def rollback(
    registry: ModelRegistry, store: DecisionStore, service: str, name: str, dagster_run_id: str | None
) -> Rollback:
    """Move ``champion`` back to ``previous_champion``, record it and tag the version rolled back.

    Raises:
        MissingInputError: there is no champion or no previous champion.
    """
    current, previous = registry.alias(name, CHAMPION), registry.alias(name, PREVIOUS_CHAMPION)
    if previous is None or current is None:
        raise MissingInputError(f"{name} has no '{PREVIOUS_CHAMPION}' to roll back to (champion: {current})")
    registry.set_alias(name, CHAMPION, previous)
    registry.delete_alias(name, PREVIOUS_CHAMPION)
    if registry.alias(name, CHALLENGER) == previous:
        # the previous champion was scored beside the current one for the guardrail: back as champion, that ends
        registry.delete_alias(name, CHALLENGER)
    done = Rollback(current, previous, 0)
    record = DecisionRecord(
        service=service,
        model_name=name,
        action=ROLLBACK,
        reason=done.reason,
        challenger_version=current,
        champion_version=current,
        new_champion_version=previous,
        dagster_run_id=dagster_run_id,
    )
    decision_id = store.record(record)
    registry.tag_version(
        name, current, {"rolled_back_at": datetime.now(UTC).isoformat(), "decision.id": str(decision_id)}
    )
    note_decision(registry, record, current, decision_id)
    return Rollback(current, previous, decision_id)
