"""Rollout stages carried out without Dagster: tag the version, move the aliases, record every step.

``enter_first_stage`` sends a challenger that passed the offline rules into its first live stage;
``start_guardrail`` puts the old champion in shadow beside the one that replaced it; ``carry_out`` does what a
live verdict's step calls for (``rollout.next_step``): the next stage, champion, rejection, rollback, or the
guardrail cleared. Each is recorded in ``promotion_decisions`` with the test's numbers and tagged on the version.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from taxi_assets.alerting import Alert, Kind, Severity
from taxi_assets.model.versions import CHALLENGER, CHAMPION, PREVIOUS_CHAMPION, ModelRegistry
from taxi_assets.registry.cards import note_decision
from taxi_assets.registry.champion import Comparison
from taxi_assets.registry.decisions import DecisionRecord, DecisionStore
from taxi_assets.registry.live_evidence import (
    LiveEvaluation,
    ab_rows_query,
    evaluate_ab,
    evaluate_shadow,
    read_frame,
    shadow_pairs_query,
)
from taxi_assets.registry.rollout import (
    AB,
    ADVANCE,
    CLEARED,
    ENDED,
    GUARDRAIL,
    PROMOTE_LIVE,
    REJECT_LIVE,
    ROLLBACK_LIVE,
    STAGE_TAG,
    RolloutPlan,
    Stage,
    Step,
    boundary_ratio,
)


def current_stage(registry: ModelRegistry, name: str) -> Stage | None:
    """The live stage of the version the ``challenger`` alias points at, or None."""
    version = registry.alias(name, CHALLENGER)
    return Stage.from_tags(version, registry.version_tags(name, version)) if version else None


def evaluate_stage(url: str, service: str, stage: Stage, plan: RolloutPlan) -> LiveEvaluation:
    """The live evidence on ``stage`` so far: shadow pairs (shadow, guardrail) or the A/B arms, since it began."""
    rule = plan.rule(stage.name)
    if stage.name == AB:
        rows = read_frame(url, ab_rows_query(service, stage.against, stage.version, stage.started_at))
        return evaluate_ab(rows, rule)
    query = shadow_pairs_query(service, stage.version, stage.started_at, champion_version=stage.against)
    return evaluate_shadow(read_frame(url, query), rule)


def _stage(name: str, version: str, against: str, plan: RolloutPlan) -> Stage:
    return Stage(name, version, against, datetime.now(UTC), plan.ab_share if name == AB else 0.0)


def enter_first_stage(
    registry: ModelRegistry, store: DecisionStore, service: str, comparison: Comparison, plan: RolloutPlan, run_id: str
) -> tuple[DecisionRecord, int]:
    """The challenger passed the offline rules: it enters the plan's first stage against the champion."""
    first, champion = plan.first_stage(), comparison.champion
    if first is None or champion is None:
        raise ValueError("only a challenger with a champion to beat enters a stage, and only when the plan has one")
    stage = _stage(first, comparison.challenger.version, champion.version, plan)
    registry.tag_version(comparison.name, stage.version, stage.tags())
    record = DecisionRecord(
        service=service,
        model_name=comparison.name,
        action=first,
        reason=f"passed the offline rules ({comparison.decision.reason}); enters {first}: it replaces the champion "
        "only on live evidence",
        challenger_version=stage.version,
        champion_version=champion.version,
        new_champion_version=champion.version,
        rules=comparison.decision.rules
        | {"holdout": comparison.holdout_label, "holdout_rows": comparison.holdout_rows, "plan": asdict(plan)},
        challenger_metrics=comparison.challenger.as_dict(),
        champion_metrics=champion.as_dict(),
        dagster_run_id=run_id,
    )
    return record, _record_and_tag(registry, store, record, stage.version)


def start_guardrail(registry: ModelRegistry, name: str, old: str, new: str) -> Stage:
    """Score the old champion ``old`` in shadow beside the new one, ``new``, for the guardrail."""
    stage = Stage(GUARDRAIL, old, new, datetime.now(UTC))
    registry.set_alias(name, CHALLENGER, old)
    registry.tag_version(name, old, stage.tags())
    return stage


def live_rules(stage: Stage, evaluation: LiveEvaluation) -> dict[str, Any]:
    """The numbers behind a live step, as a decision's rules: the test, its statistic, the labels, the segments."""
    verdict = evaluation.verdict
    return {
        "live": {
            "stage": stage.name,
            "since": stage.started_at.isoformat(),
            "test": "always-valid confidence sequence (normal mixture) on per-trip squared-error differences",
            "decision": verdict.decision,
            "labels": verdict.labels,
            "mean_difference": verdict.mean,
            "low": verdict.low,
            "high": verdict.high,
            "margin": verdict.margin,
            "alpha": verdict.alpha,
            "statistic": boundary_ratio(verdict),
        },
        "segments": {
            segment: {value: asdict(result) for value, result in values.items()}
            for segment, values in evaluation.by_segment.items()
        },
    }


def carry_out(
    registry: ModelRegistry,
    store: DecisionStore,
    service: str,
    name: str,
    step: Step,
    stage: Stage,
    evaluation: LiveEvaluation,
    plan: RolloutPlan,
    run_id: str | None,
) -> tuple[DecisionRecord, int]:
    """Do what ``step`` calls for on ``stage`` and record it. The step must not be CONTINUE."""
    # in the guardrail the challenger alias holds the old champion; the served model is the new one
    served, scored = (stage.against, stage.version)
    champion_after = _move_aliases(registry, name, step, stage, plan)
    record = DecisionRecord(
        service=service,
        model_name=name,
        action=step.next_stage if step.action == ADVANCE and step.next_stage else step.action,
        reason=step.reason,
        challenger_version=scored,
        champion_version=served,
        new_champion_version=champion_after,
        rules=live_rules(stage, evaluation),
        challenger_metrics={
            "version": scored,
            "live_rmse": evaluation.challenger_rmse,
            "labels": evaluation.challenger_labels,
        },
        champion_metrics={
            "version": served,
            "live_rmse": evaluation.champion_rmse,
            "labels": evaluation.champion_labels,
        },
        dagster_run_id=run_id,
    )
    # the guardrail judges the new champion: its decision is tagged on it
    return record, _record_and_tag(registry, store, record, served if stage.name == GUARDRAIL else scored)


def _move_aliases(registry: ModelRegistry, name: str, step: Step, stage: Stage, plan: RolloutPlan) -> str:
    """Move the aliases and stage tags ``step`` calls for; return the champion after it."""
    served, scored = (stage.against, stage.version)
    if step.action == ADVANCE and step.next_stage is not None:
        registry.tag_version(name, scored, _stage(step.next_stage, scored, served, plan).tags())
        return served
    if step.action == PROMOTE_LIVE:
        registry.set_alias(name, PREVIOUS_CHAMPION, served)
        registry.set_alias(name, CHAMPION, scored)
        registry.delete_alias(name, CHALLENGER)
        registry.tag_version(name, scored, {STAGE_TAG: ENDED})
        if plan.guardrail:
            start_guardrail(registry, name, served, scored)
        return scored
    if step.action == ROLLBACK_LIVE:
        registry.set_alias(name, CHAMPION, scored)
        registry.delete_alias(name, PREVIOUS_CHAMPION)
        registry.delete_alias(name, CHALLENGER)
        registry.tag_version(name, scored, {STAGE_TAG: ENDED})
        registry.tag_version(name, served, {"rolled_back_at": datetime.now(UTC).isoformat()})
        return scored
    if step.action in (REJECT_LIVE, CLEARED):
        registry.delete_alias(name, CHALLENGER)
        registry.tag_version(name, scored, {STAGE_TAG: ENDED})
        return served
    raise ValueError(f"nothing to carry out for the step {step.action!r}")


def step_alert(service: str, name: str, stage: Stage, step: Step, record: DecisionRecord, run_id: str) -> Alert:
    """The alert of a live step: a WARNING for a rollback or a rejection, INFO otherwise."""
    return Alert(
        Severity.WARNING if step.action in (ROLLBACK_LIVE, REJECT_LIVE) else Severity.INFO,
        Kind.ROLLED_BACK if step.action == ROLLBACK_LIVE else Kind.ROLLOUT,
        service,
        f"{name}: {stage.name} of v{stage.version} beside champion v{stage.against} ends in {record.action}",
        {"reason": step.reason, "labels": record.rules["live"]["labels"], "dagster_run_id": run_id},
    )


def _record_and_tag(registry: ModelRegistry, store: DecisionStore, record: DecisionRecord, version: str) -> int:
    decision_id = store.record(record)
    registry.tag_version(
        record.model_name,
        version,
        {
            "decision": record.action,
            "decision.reason": record.reason,
            "decision.compared_with": record.champion_version or "none",
            "decision.at": record.decided_at.isoformat(),
            "decision.dagster_run_id": record.dagster_run_id or "",
            "decision.id": str(decision_id),
        },
    )
    note_decision(registry, record, version, decision_id)
    return decision_id
