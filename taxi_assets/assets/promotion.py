"""Promotion: champion vs challenger on the same holdout; every decision recorded; rollback as a job."""

from datetime import UTC, datetime

import dagster as dg
import pandas as pd
from pydantic import Field

from taxi_assets import constants
from taxi_assets.assets.common import failing_clearly
from taxi_assets.assets.serving import served_observation
from taxi_assets.assets.training import BEHAVIOUR_CHECK, PARITY_CHECK, challenger_model
from taxi_assets.lakefs import read_committed
from taxi_assets.lifecycle.alerts import Kind, Severity
from taxi_assets.lifecycle.decisions import DecisionRecord
from taxi_assets.lifecycle.promotion import PROMOTE, ROLLBACK, Evidence, PromotionRules, decide
from taxi_assets.lifecycle.registry import CHALLENGER, CHAMPION, PREVIOUS_CHAMPION, ModelRegistry, model_name
from taxi_assets.modeling.errors import MissingInputError, TaxiDataError
from taxi_assets.modeling.evaluation import regression_metrics, rmse_by_segment
from taxi_assets.modeling.feature_schema import read_feature_table
from taxi_assets.modeling.features import TARGET
from taxi_assets.modeling.probes import single_row_latency
from taxi_assets.modeling.split import SPLIT, TEST
from taxi_assets.partitions import service_partitions
from taxi_assets.resources import AlertsResource, DataLake, MlflowResource, PlatformDatabase

CHECKS = (PARITY_CHECK, BEHAVIOUR_CHECK)


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


def evidence(
    registry: ModelRegistry, name: str, version: str, holdout: pd.DataFrame, p50: float, p99: float
) -> Evidence:
    """Metrics on the holdout plus the check results recorded on the version."""
    model = registry.load_fare_model(name, version)
    predicted = model.predict(holdout)
    metrics = regression_metrics(holdout[TARGET].to_numpy(), predicted).as_dict()
    metrics |= {
        f"rmse_{borough}": value
        for borough, value in rmse_by_segment(holdout[TARGET].to_numpy(), predicted, holdout["pickup_borough"]).items()
    }
    tags = registry.version_tags(name, version)
    checks = {check: tags.get(f"check.{check}") == "passed" for check in CHECKS}
    return Evidence(version=version, metrics=metrics, p50_ms=p50, p99_ms=p99, checks=checks)


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
) -> dg.MaterializeResult:
    """Champion vs challenger on the same holdout, and the recorded decision.

    Promotes (moves ``champion``, keeps the old one as ``previous_champion``) only if the challenger's checks
    passed, its RMSE is lower by the required margin and its single-row p99 latency is within tolerance.
    Every decision is recorded with its evidence.
    """
    service = context.partition_key
    name = model_name(service)
    registry = mlflow.registry()
    with failing_clearly():
        challenger_version = registry.alias(name, CHALLENGER)
        if challenger_version is None:
            raise MissingInputError(f"{name} has no '{CHALLENGER}' version; materialize challenger_model first")
        holdout, holdout_label = load_holdout(lake, service, config.holdout_months)
        if holdout.empty:
            raise TaxiDataError(f"the holdout ({holdout_label}) has no rows")
    champion_version = registry.alias(name, CHAMPION)

    versions = {"challenger": challenger_version} | ({"champion": champion_version} if champion_version else {})
    models = {role: registry.load_fare_model(name, version) for role, version in versions.items()}
    latency = single_row_latency(models, holdout.head(500), config.latency_repeats)
    challenger = evidence(
        registry, name, challenger_version, holdout, latency["challenger"].p50_ms, latency["challenger"].p99_ms
    )
    champion = (
        evidence(registry, name, champion_version, holdout, latency["champion"].p50_ms, latency["champion"].p99_ms)
        if champion_version
        else None
    )
    rules = PromotionRules(config.min_rmse_improvement, config.latency_tolerance_ratio, config.latency_tolerance_ms)
    decision = decide(challenger, champion, rules)
    if champion_version == challenger_version:
        decision = type(decision)(
            action="reject", reason="the challenger is already the champion", rules=decision.rules
        )

    if decision.action == PROMOTE:
        if champion_version:
            registry.set_alias(name, PREVIOUS_CHAMPION, champion_version)
        registry.set_alias(name, CHAMPION, challenger_version)
        registry.delete_alias(name, CHALLENGER)
    decided_at = datetime.now(UTC)
    record = DecisionRecord(
        service=service,
        model_name=name,
        action=decision.action,
        reason=decision.reason,
        challenger_version=challenger_version,
        champion_version=champion_version,
        new_champion_version=challenger_version if decision.action == PROMOTE else champion_version,
        rules=decision.rules | {"holdout": holdout_label, "holdout_rows": len(holdout)},
        challenger_metrics=challenger.as_dict(),
        champion_metrics=champion.as_dict() if champion else {},
        dagster_run_id=context.run.run_id,
        decided_at=decided_at,
    )
    store = platform_db.decisions()
    decision_id = store.record(record)
    store.dispose()
    registry.tag_version(
        name,
        challenger_version,
        {
            "decision": decision.action,
            "decision.reason": decision.reason,
            "decision.compared_with": champion_version or "none",
            "decision.at": decided_at.isoformat(),
            "decision.dagster_run_id": context.run.run_id,
            "decision.id": str(decision_id),
        },
    )
    context.log.info(f"{name}: {decision.action} v{challenger_version} — {decision.reason}")
    promoted = decision.action == PROMOTE
    alerts.send(
        Severity.INFO if promoted else Severity.WARNING,
        Kind.PROMOTED if promoted else Kind.REJECTED,
        service,
        f"{name}: challenger v{challenger_version} {'promoted' if promoted else 'rejected'}",
        {
            "reason": decision.reason,
            "champion_before": champion_version or "none",
            "champion_after": record.new_champion_version or "none",
            "challenger_rmse": round(challenger.metrics["rmse"], 4),
            "champion_rmse": round(champion.metrics["rmse"], 4) if champion else None,
            "holdout": f"{holdout_label} ({len(holdout)} rows)",
            "dagster_run_id": context.run.run_id,
        },
    )
    context.log_event(served_observation(service, name, record.new_champion_version, decision.action))
    return dg.MaterializeResult(
        metadata={
            "decision": decision.action,
            "reason": decision.reason,
            "challenger_version": challenger_version,
            "champion_version_before": champion_version or "none",
            "champion_version_after": record.new_champion_version or "none",
            "challenger_rmse": challenger.metrics["rmse"],
            "champion_rmse": champion.metrics["rmse"] if champion else float("nan"),
            "challenger_p99_ms": challenger.p99_ms,
            "champion_p99_ms": champion.p99_ms if champion else float("nan"),
            "rules": dg.MetadataValue.json(decision.rules),
            "holdout": holdout_label,
            "holdout_rows": len(holdout),
            "decision_id": decision_id,
        }
    )


class RollbackConfig(dg.Config):
    """Which service's champion to roll back."""

    service: str = Field(default=constants.DEFAULT_DEMO_SERVICE, description="TLC service (green or yellow).")


@dg.op
def rollback_champion(
    context: dg.OpExecutionContext,
    config: RollbackConfig,
    mlflow: MlflowResource,
    platform_db: PlatformDatabase,
    alerts: AlertsResource,
) -> dg.Output[str]:
    """Move ``champion`` back to ``previous_champion`` and record the rollback."""
    name = model_name(config.service)
    registry = mlflow.registry()
    current, previous = registry.alias(name, CHAMPION), registry.alias(name, PREVIOUS_CHAMPION)
    if previous is None or current is None:
        raise dg.Failure(description=f"{name} has no '{PREVIOUS_CHAMPION}' to roll back to (champion: {current})")
    registry.set_alias(name, CHAMPION, previous)
    registry.delete_alias(name, PREVIOUS_CHAMPION)
    reason = f"rollback: champion v{current} replaced by previous champion v{previous}"
    store = platform_db.decisions()
    decision_id = store.record(
        DecisionRecord(
            service=config.service,
            model_name=name,
            action=ROLLBACK,
            reason=reason,
            challenger_version=current,
            champion_version=current,
            new_champion_version=previous,
            dagster_run_id=context.run.run_id,
        )
    )
    store.dispose()
    registry.tag_version(
        name, current, {"rolled_back_at": datetime.now(UTC).isoformat(), "decision.id": str(decision_id)}
    )
    context.log.info(reason)
    context.log_event(served_observation(config.service, name, previous, ROLLBACK))
    alerts.send(Severity.WARNING, Kind.ROLLED_BACK, config.service, f"{name}: {reason}", {"decision_id": decision_id})
    return dg.Output(
        previous, metadata={"champion_before": current, "champion_after": previous, "decision_id": decision_id}
    )


@dg.job(description="Move the champion alias back to the previous champion, and record it.")
def rollback_job() -> None:
    """Roll back one service's champion."""
    rollback_champion()
