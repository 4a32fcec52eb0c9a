"""Partitions: TLC files come one per service and month; monitoring judges one window of one service's traffic."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Final

import dagster as dg

from taxi_assets import constants

MONTH: Final = "month"
SERVICE: Final = "service"
WINDOW: Final = "window"
# Every window length keys its windows by their start, to the minute (Dagster's hourly format).
WINDOW_FORMAT: Final = "%Y-%m-%d-%H:%M"

service_partitions = dg.StaticPartitionsDefinition(list(constants.SERVICES))
month_partitions = dg.MonthlyPartitionsDefinition(start_date=constants.FIRST_MONTH, fmt=constants.MONTH_FORMAT)
monthly_service_partitions = dg.MultiPartitionsDefinition({MONTH: month_partitions, SERVICE: service_partitions})

# A per-service asset reads every month of its service that its config selects. The mapping is marked beta;
# its behaviour here (one service -> all months of that service) is covered by test_definitions.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)
    service_to_months = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name=SERVICE)


def window_cron(minutes: int) -> str:
    """The cron schedule whose ticks close windows of ``minutes``: a divisor of an hour, or whole hours of a day.

    Raises:
        ValueError: a length that does not tile a day from midnight (7 minutes, 90 minutes, two days).
    """
    if 1 <= minutes < 60 and 60 % minutes == 0:
        return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"
    if minutes >= 60 and minutes % 60 == 0 and 24 % (minutes // 60) == 0:
        hours = minutes // 60
        return "0 0 * * *" if hours == 24 else ("0 * * * *" if hours == 1 else f"0 */{hours} * * *")
    raise ValueError(
        f"a monitoring window of {minutes} minutes does not tile a day: use a divisor of 60 (1, 2, 5, 10, 15, 30), "
        "or whole hours dividing 24 (60, 120, 180, 240, 360, 480, 720, 1440)"
    )


@dataclass(frozen=True)
class MonitoringWindows:
    """How the prediction log is cut into windows: their length, the first window, and their partitions."""

    minutes: int = constants.MONITORING_WINDOW_MINUTES
    start: str = constants.MONITORING_START

    @cached_property
    def cron(self) -> str:
        """The cron schedule that closes each window (also validates the length)."""
        return window_cron(self.minutes)

    @cached_property
    def partitions(self) -> dg.TimeWindowPartitionsDefinition:
        """One partition per window, the open one included (so it can be judged by hand before it closes)."""
        start = datetime.strptime(self.start, WINDOW_FORMAT).replace(tzinfo=UTC)
        return dg.TimeWindowPartitionsDefinition(
            start=start, cron_schedule=self.cron, fmt=WINDOW_FORMAT, timezone="UTC", end_offset=1
        )

    @cached_property
    def by_service(self) -> dg.MultiPartitionsDefinition:
        """Window x service: drift_report's partitions."""
        return dg.MultiPartitionsDefinition({WINDOW: self.partitions, SERVICE: service_partitions})

    @property
    def length(self) -> timedelta:
        """How long one window is."""
        return timedelta(minutes=self.minutes)

    def containing(self, moment: datetime) -> str:
        """The key of the window ``moment`` falls in."""
        minutes = int((moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() // 60)
        return self.format(datetime.fromtimestamp((minutes - minutes % self.minutes) * 60, UTC))

    def closed_before(self, moment: datetime) -> str:
        """The key of the last window that ended at or before ``moment``."""
        return self.containing(moment - self.length)

    def bounds(self, window: str) -> tuple[datetime, datetime]:
        """``[start, end)`` of a window, in UTC."""
        start = datetime.strptime(window, WINDOW_FORMAT).replace(tzinfo=UTC)
        return start, start + self.length

    def key(self, window: str, service: str) -> dg.MultiPartitionKey:
        """The drift_report partition of one window of one service."""
        return dg.MultiPartitionKey({WINDOW: window, SERVICE: service})

    @staticmethod
    def format(moment: datetime) -> str:
        """A window start as its key."""
        return moment.astimezone(UTC).strftime(WINDOW_FORMAT)


def month_service_key(month: str, service: str) -> dg.MultiPartitionKey:
    """The partition key of one month of one service."""
    return dg.MultiPartitionKey({MONTH: month, SERVICE: service})


def split_window_service(context: dg.AssetExecutionContext) -> tuple[str, str]:
    """(service, window) of the monitoring window being materialized."""
    key = context.partition_key
    if not isinstance(key, dg.MultiPartitionKey):
        raise TypeError(f"expected a service|window partition key, got {key!r}")
    return key.keys_by_dimension[SERVICE], key.keys_by_dimension[WINDOW]


def split_month_service(context: dg.AssetExecutionContext) -> tuple[str, str]:
    """(service, month) of the partition being materialized."""
    key = context.partition_key
    if not isinstance(key, dg.MultiPartitionKey):
        raise TypeError(f"expected a month|service partition key, got {key!r}")
    return key.keys_by_dimension[SERVICE], key.keys_by_dimension[MONTH]
