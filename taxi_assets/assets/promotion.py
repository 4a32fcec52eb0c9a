"""Promotion: champion vs challenger on the same holdout; every decision recorded; rollback as a job."""

from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from taxi_assets import constants
from taxi_assets.alerting import Kind, Severity
from taxi_assets.assets.common import failing_clearly, run_step_seconds
from taxi_assets.assets.serving import served_observation
from taxi_assets.assets.training import challenger_model
from taxi_assets.errors import TaxiDataError
from taxi_assets.features.schema import read_feature_table
from taxi_assets.features.split import SPLIT, TEST
from taxi_assets.lake_storage import read_committed
from taxi_assets.model.versions import model_name
from taxi_assets.partitions import service_partitions
from taxi_assets.registry.champion import (
    Comparison,
    apply_decision,
    compare,
    decision_alert,
    require_challenger,
    rollback,
)
from taxi_assets.registry.decisions import DecisionRecord
from taxi_assets.registry.promotion import ROLLBACK, PromotionRules
from taxi_assets.registry.segment_gate import SegmentRules
from taxi_assets.registry.stages import enter_first_stage, start_guardrail
from taxi_assets.resources import AlertsResource, DataLake, MlflowResource, PlatformDatabase, RolloutPolicy
from taxi_assets.run_logging import RUN_LOG_CONFIG


class PromotionConfig(dg.Config):
    """The promotion rules and the holdout both models are scored on."""

    min_rmse_improvement: float = Field(
        default=constants.MIN_RMSE_IMPROVEMENT, description="RMSE the challenger must gain over the champion."
    )
    latency_tolerance_ratio: float = Field(
        default=constants.LATENCY_TOLERANCE_RATIO, description="Allowed relative p99 slowdown vs the champion."
    )
    latency_tolerance_ms: float = Field(
        default=constants.LATENCY_TOLERANCE_MS, description="Allowed absolute p99 slowdown on top, in ms."
    )
    latency_repeats: int = Field(default=constants.LATENCY_REPEATS, description="Timed single-row calls per model.")
    segment_min_rows: int = Field(
        default=constants.SEGMENT_MIN_ROWS, description="Holdout rows a segment needs to be judged (fewer: shown only)."
    )
    segment_margin_usd: float = Field(
        default=constants.SEGMENT_MARGIN_USD,
        description="How much worse for a segment counts: MAE above the champion's, or a charging gap further out.",
    )
    segment_bias_line_usd: float = Field(
        default=constants.SEGMENT_BIAS_LINE_USD,
        description="A segment's mean signed error against the overall one beyond which it is over- or under-charged.",
    )
    segment_alpha: float = Field(
        default=constants.SEGMENT_ALPHA, description="Family-wise error of the segment gate over all its tests (Holm)."
    )
    segment_gate: bool = Field(default=True, description="Judge the challenger segment by segment before promoting.")
    holdout_months: list[str] = Field(
        default_factory=list,
        description="Score on these months' full trip_features; empty means the training_set's test split.",
    )


def load_holdout(lake: DataLake, service: str, months: list[str]) -> tuple[pd.DataFrame, str]:
    """The rows both models are scored on, and a label saying where they came from."""
    if not months:
        manifest, data = read_committed(lake.training_set(service), f"training_set {service}")
        if manifest.get("holdout") == "labelled_traffic":
            label = "the most recent labelled traffic (labelled_traffic holdout)"
        else:
            label = f"training_set test split ({','.join(manifest['months'])})"
        return read_feature_table(data / f"{SPLIT}={TEST}"), label
    frames = [read_feature_table(lake.committed_features(service, month)) for month in months]
    return pd.concat(frames, ignore_index=True), f"trip_features {','.join(months)}"


@dg.asset(
    partitions_def=service_partitions,
    deps=[challenger_model],
    group_name=constants.PROMOTION_GROUP,
    kinds={"mlflow"},
    code_version="1",
)
def promotion_decision(
    context: dg.AssetExecutionContext,
    config: PromotionConfig,
    lake: DataLake,
    mlflow: MlflowResource,
    platform_db: PlatformDatabase,
    alerts: AlertsResource,
    rollout: RolloutPolicy,
) -> dg.MaterializeResult:
    """Champion vs challenger on the same holdout, and the recorded decision.

    A challenger passes only if its checks passed, its RMSE is lower by the required margin and its single-row
    p99 latency is within tolerance. One that passes enters the service's first rollout stage (shadow or A/B,
    promoted later on live evidence by ``online_evaluation``), or with no stages is promoted at once: it moves
    ``champion``, keeps the old one as ``previous_champion``, and the old one runs in shadow for the guardrail.
    Every decision is recorded with its evidence.
    """
    service, run_id = context.partition_key, context.run.run_id
    name, registry = model_name(service), mlflow.registry()
    with failing_clearly():
        challenger_version = require_challenger(registry, name)
        holdout = load_holdout(lake, service, config.holdout_months)
        if holdout[0].empty:
            raise TaxiDataError(f"the holdout ({holdout[1]}) has no rows")
    rules = promotion_rules(config)
    comparison = compare(registry, name, challenger_version, holdout, rules, config.latency_repeats)
    store = platform_db.decisions()
    plan = rollout.plan(service)
    if comparison.promoted and comparison.champion and plan.first_stage():
        record, decision_id = enter_first_stage(registry, store, service, comparison, plan, run_id)
    else:
        record, decision_id = apply_decision(registry, store, service, comparison, run_id)
        if comparison.promoted and comparison.champion and plan.guardrail:
            start_guardrail(registry, name, comparison.champion.version, challenger_version)
    store.dispose()
    context.log.info(f"{name}: {record.action} v{challenger_version} — {record.reason}")
    alerts.alerter().send(decision_alert(service, comparison, record, run_id))
    context.log_event(served_observation(service, name, record.new_champion_version, record.action))
    return dg.MaterializeResult(metadata=_decision_metadata(comparison, record, decision_id, run_step_seconds(context)))


def promotion_rules(config: PromotionConfig) -> PromotionRules:
    """The rules of ``config``, with the segment gate's settings unless it is turned off."""
    segments = SegmentRules(
        min_rows=config.segment_min_rows,
        margin_usd=config.segment_margin_usd,
        bias_line_usd=config.segment_bias_line_usd,
        alpha=config.segment_alpha,
        resamples=constants.SEGMENT_RESAMPLES,
    )
    return PromotionRules(
        config.min_rmse_improvement,
        config.latency_tolerance_ratio,
        config.latency_tolerance_ms,
        segments if config.segment_gate else None,
    )


def _decision_metadata(
    comparison: Comparison, record: DecisionRecord, decision_id: int, steps: list[tuple[str, float]]
) -> dict[str, Any]:
    challenger, champion = comparison.challenger, comparison.champion
    return {
        "decision": record.action,
        "reason": record.reason,
        "challenger_version": challenger.version,
        "champion_version_before": record.champion_version or "none",
        "champion_version_after": record.new_champion_version or "none",
        "challenger_rmse": challenger.metrics["rmse"],
        "champion_rmse": champion.metrics["rmse"] if champion else float("nan"),
        "challenger_p99_ms": challenger.p99_ms,
        "champion_p99_ms": champion.p99_ms if champion else float("nan"),
        "rules": dg.MetadataValue.json(comparison.decision.rules),
        "segments_blocked": ", ".join(comparison.decision.rules.get("segments", {}).get("value", [])) or "none",
        "holdout": comparison.holdout_label,
        "holdout_rows": comparison.holdout_rows,
        "decision_id": decision_id,
        # where the run's time went before this decision: [step, seconds] in the order the steps ran
        "run_step_seconds": dg.MetadataValue.json([list(step) for step in steps]),
    }


class RollbackConfig(dg.Config):
    """Which service's champion to roll back."""

    service: str = Field(default=constants.DEFAULT_SERVICE, description="TLC service (green or yellow).")


@dg.op
def rollback_champion(
    context: dg.OpExecutionContext,
    config: RollbackConfig,
    mlflow: MlflowResource,
    platform_db: PlatformDatabase,
    alerts: AlertsResource,
) -> dg.Output[str]:
    """Move ``champion`` back to ``previous_champion`` and record the rollback."""
    name, store = model_name(config.service), platform_db.decisions()
    with failing_clearly():
        done = rollback(mlflow.registry(), store, config.service, name, context.run.run_id)
    store.dispose()
    context.log.info(done.reason)
    context.log_event(served_observation(config.service, name, done.previous, ROLLBACK))
    details = {"decision_id": done.decision_id}
    alerts.send(Severity.WARNING, Kind.ROLLED_BACK, config.service, f"{name}: {done.reason}", details)
    return dg.Output(
        done.previous,
        metadata={"champion_before": done.current, "champion_after": done.previous, "decision_id": done.decision_id},
    )


@dg.job(description="Move the champion alias back to the previous champion, and record it.", config=RUN_LOG_CONFIG)
def rollback_job() -> None:
    """Roll back one service's champion."""
    rollback_champion()
