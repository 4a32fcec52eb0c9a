"""The policies of retraining (which months, how often) and of monitoring (its windows, its accuracy period)."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from taxi_assets import constants
from taxi_assets.partitions import MonitoringWindows


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
