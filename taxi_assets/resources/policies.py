"""The policies of retraining (which months, how often), monitoring (windows, accuracy period) and rollout."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from taxi_assets import constants
from taxi_assets.partitions import MonitoringWindows
from taxi_assets.registry.rollout import RolloutPlan


class RetrainingPolicy(dg.ConfigurableResource):
    """What the retraining sensor trains on and how often it may start."""

    months: int = Field(
        default=constants.RETRAIN_MONTH_COUNT,
        description="How many of the newest complete TLC months before the failing window join the labelled traffic.",
    )
    cooldown_seconds: float = Field(
        default=constants.RETRAIN_COOLDOWN_SECONDS, description="Least time between two retrainings of a service."
    )


class MonitoringPolicy(dg.ConfigurableResource):
    """How traffic is cut into windows and how far back a window's accuracy looks for matured labels."""

    window_minutes: int = Field(
        default=constants.MONITORING_WINDOW_MINUTES, description="Length of one monitoring window, in minutes."
    )
    start: str = Field(default=constants.MONITORING_START, description="Start of the first window (UTC).")
    accuracy_lookback_hours: float = Field(
        default=constants.ACCURACY_LOOKBACK_HOURS,
        description="Accuracy is judged on the labelled predictions of this trailing period up to the window's end "
        "(at least the window itself).",
    )

    def windows(self) -> MonitoringWindows:
        """The windows this policy cuts."""
        return MonitoringWindows(self.window_minutes, self.start)


class RolloutSettings(dg.Config):
    """One service's rollout on live traffic (``registry/rollout.py``): its stages, the A/B share, the test's limits."""

    stages: str = Field(default="", description="Stages in order, comma-separated: shadow, ab or shadow,ab; empty: "
                        "promoted on the offline decision at once.")  # fmt: skip
    ab_share: float = Field(default=constants.ROLLOUT_AB_SHARE, description="Share of clients it answers in A/B.")
    alpha: float = Field(
        default=constants.ROLLOUT_ALPHA, description="Level of the sequential test: the bound on false promotions."
    )
    margin: float = Field(
        default=constants.ROLLOUT_MARGIN,
        description="Mean per-trip squared-error gain (USD²) the challenger must beat with confidence 1 - alpha.",
    )
    min_labels: int = Field(
        default=constants.ROLLOUT_MIN_LABELS, description="No live decision before this many labels."
    )
    max_labels: int = Field(
        default=constants.ROLLOUT_MAX_LABELS,
        description="A stage without a decision at this many labels ends in rejection.",
    )
    max_hours: float = Field(
        default=constants.ROLLOUT_MAX_HOURS, description="A stage without a decision after this long ends in rejection."
    )
    guardrail: bool = Field(
        default=True,
        description="Score the old champion in shadow after a promotion, and roll back on a confident loss.",
    )
    guardrail_margin: float = Field(
        default=constants.ROLLOUT_MARGIN,
        description="Mean per-trip squared-error loss (USD²) of a new champion over the old that rolls it back.",
    )
    guardrail_labels: int = Field(
        default=constants.GUARDRAIL_MAX_LABELS, description="The guardrail ends, cleared, at this many labels."
    )

    def plan(self) -> RolloutPlan:
        """These settings as a plan. Raises ValueError for stages or limits out of range, naming them."""
        stages = tuple(stage.strip() for stage in self.stages.split(",") if stage.strip())
        values = self.model_dump(exclude={"stages"})
        return RolloutPlan(stages=stages, **values)


class RolloutPolicy(dg.ConfigurableResource):
    """How each service rolls out a challenger that passed the offline rules; a service not listed uses defaults."""

    services: dict[str, RolloutSettings] = Field(default_factory=dict, description="Each service's rollout.")

    def plan(self, service: str) -> RolloutPlan:
        """The plan of ``service``."""
        return self.services.get(service, RolloutSettings()).plan()
