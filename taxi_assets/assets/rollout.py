"""Rollout on live traffic: the challenger's stage judged on matured labels, and the step it calls for, recorded."""

from datetime import UTC, datetime
from typing import Any

import dagster as dg

from taxi_assets import constants
from taxi_assets.assets.promotion import promotion_decision
from taxi_assets.assets.serving import prediction_log, served_observation
from taxi_assets.model.versions import model_name
from taxi_assets.partitions import service_partitions
from taxi_assets.platform_db.prediction_log import CHALLENGER_ARM, SHADOW_ARM
from taxi_assets.registry.live_evidence import LiveEvaluation, stage_traffic
from taxi_assets.registry.rollout import (
    AB,
    CONTINUE,
    ROLLBACK_LIVE,
    RolloutPlan,
    Stage,
    Step,
    boundary_ratio,
    next_step,
)
from taxi_assets.registry.stages import carry_out, current_stage, evaluate_stage, step_alert
from taxi_assets.resources import AlertsResource, MlflowResource, PlatformDatabase, RolloutPolicy

LIVE_SCORING = "live_scoring"
GUARDRAIL_CHECK = "guardrail"
# a shadow stage in which the challenger scored fewer of the champion's requests than this is not being run
MIN_SHADOW_COVERAGE = 0.99
# requests the champion answers before an A/B challenger that answered none counts as not running
MIN_AB_REQUESTS = 200


@dg.asset(
    partitions_def=service_partitions,
    deps=[prediction_log, promotion_decision],
    group_name=constants.ROLLOUT_GROUP,
    kinds={"mlflow"},
    code_version="1",
    check_specs=[
        dg.AssetCheckSpec(
            LIVE_SCORING,
            asset="online_evaluation",
            description="The API scores (shadow) or serves (A/B) the challenger on the traffic its stage asks for.",
        ),
        dg.AssetCheckSpec(
            GUARDRAIL_CHECK,
            asset="online_evaluation",
            description="A new champion does no worse than the one it replaced on the same live trips; fails when "
            "it was rolled back.",
        ),
    ],
)
def online_evaluation(
    context: dg.AssetExecutionContext,
    mlflow: MlflowResource,
    platform_db: PlatformDatabase,
    alerts: AlertsResource,
    rollout: RolloutPolicy,
) -> dg.MaterializeResult:
    """The challenger's live stage (shadow, A/B or the guardrail) judged by the sequential test on matured labels.

    Reads the shadow pairs or the A/B arms since the stage began, and carries out the first decision the test
    reaches: the next stage, champion, rejection (a confident shortfall, or the stage's label or time limit), a
    rollback of a new champion that does worse than the old, or the guardrail cleared. Each is recorded.
    """
    service, registry = context.partition_key, mlflow.registry()
    name, plan = model_name(service), rollout.plan(service)
    stage = current_stage(registry, name)
    if stage is None:
        return dg.MaterializeResult(
            metadata={"stage": "none", "plan": dg.MetadataValue.json(_plan(plan))},
            check_results=[_scoring_check(None, 0, 0, plan), _guardrail_check(None, None)],
        )
    evaluation = evaluate_stage(platform_db.url, service, stage, plan)
    step = next_step(stage, evaluation.verdict, plan, datetime.now(UTC))
    metadata = _metadata(stage, evaluation, step, plan)
    if step.action != CONTINUE:
        store = platform_db.decisions()
        record, metadata["decision_id"] = carry_out(
            registry, store, service, name, step, stage, evaluation, plan, context.run.run_id
        )
        store.dispose()
        alerts.alerter().send(step_alert(service, name, stage, step, record, context.run.run_id))
        context.log_event(served_observation(service, name, record.new_champion_version, record.action))
    context.log.info(f"{name} {stage.name} v{stage.version} against v{stage.against}: {step.action} — {step.reason}")
    arm = CHALLENGER_ARM if stage.name == AB else SHADOW_ARM
    traffic = stage_traffic(platform_db.url, service, stage.against, stage.version, arm, stage.started_at)
    checks = [_scoring_check(stage, traffic.champion_requests, traffic.challenger_requests, plan)]
    return dg.MaterializeResult(metadata=metadata, check_results=[*checks, _guardrail_check(stage, step)])


def _plan(plan: RolloutPlan) -> dict[str, Any]:
    return {"stages": list(plan.stages), "ab_share": plan.ab_share, "alpha": plan.alpha, "margin": plan.margin,
            "min_labels": plan.min_labels, "max_labels": plan.max_labels, "max_hours": plan.max_hours,
            "guardrail": plan.guardrail}  # fmt: skip


def _metadata(stage: Stage, evaluation: LiveEvaluation, step: Step, plan: RolloutPlan) -> dict[str, Any]:
    verdict = evaluation.verdict
    return {
        "stage": stage.name,
        "challenger_version": stage.version,
        "champion_version": stage.against,
        "stage_started_at": stage.started_at.isoformat(),
        "step": step.action,
        "reason": step.reason,
        "test_decision": verdict.decision,
        "labels": verdict.labels,
        "mean_difference_usd2": verdict.mean,
        "confidence_low": verdict.low,
        "confidence_high": verdict.high,
        "statistic": boundary_ratio(verdict),
        "champion_live_rmse": evaluation.champion_rmse,
        "challenger_live_rmse": evaluation.challenger_rmse,
        "champion_labels": evaluation.champion_labels,
        "challenger_labels": evaluation.challenger_labels,
        "segments": dg.MetadataValue.json(
            {
                segment: {value: round(result.mean_difference, 4) for value, result in values.items()}
                for segment, values in evaluation.by_segment.items()
            }
        ),
        "plan": dg.MetadataValue.json(_plan(plan)),
    }


def _scoring_check(stage: Stage | None, champion: int, challenger: int, plan: RolloutPlan) -> dg.AssetCheckResult:
    if stage is None:
        return dg.AssetCheckResult(check_name=LIVE_SCORING, passed=True, metadata={"stage": "none"})
    if stage.name == AB:
        passed = challenger > 0 or champion < MIN_AB_REQUESTS
        measured: dict[str, float] = {"share_asked": plan.ab_share}
    else:
        passed = champion == 0 or challenger >= MIN_SHADOW_COVERAGE * champion
        measured = {"coverage": challenger / champion if champion else float("nan"), "threshold": MIN_SHADOW_COVERAGE}
    return dg.AssetCheckResult(
        check_name=LIVE_SCORING,
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"stage": stage.name, "champion_requests": champion, "challenger_requests": challenger, **measured},
    )


def _guardrail_check(stage: Stage | None, step: Step | None) -> dg.AssetCheckResult:
    rolled_back = step is not None and step.action == ROLLBACK_LIVE
    return dg.AssetCheckResult(
        check_name=GUARDRAIL_CHECK,
        passed=not rolled_back,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"stage": stage.name if stage else "none", "step": step.action if step else "none"},
    )
