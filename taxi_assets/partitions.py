"""Partitions: TLC files come one per service and month."""

from __future__ import annotations

import warnings
from typing import Final

import dagster as dg

from taxi_assets import constants

MONTH: Final = "month"
SERVICE: Final = "service"
WINDOW: Final = "window"

service_partitions = dg.StaticPartitionsDefinition(list(constants.SERVICES))
month_partitions = dg.MonthlyPartitionsDefinition(start_date=constants.FIRST_MONTH, fmt=constants.MONTH_FORMAT)
monthly_service_partitions = dg.MultiPartitionsDefinition({MONTH: month_partitions, SERVICE: service_partitions})
# Monitoring judges one day of one service's traffic at a time (UTC days; today's window is open).
daily_windows = dg.DailyPartitionsDefinition(start_date=constants.MONITORING_START, end_offset=1)
window_service_partitions = dg.MultiPartitionsDefinition({WINDOW: daily_windows, SERVICE: service_partitions})

# A per-service asset reads every month of its service that its config selects. The mapping is marked beta;
# its behaviour here (one service -> all months of that service) is covered by test_definitions.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)
    service_to_months = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name=SERVICE)


def month_service_key(month: str, service: str) -> dg.MultiPartitionKey:
    """The partition key of one month of one service."""
    return dg.MultiPartitionKey({MONTH: month, SERVICE: service})


def window_service_key(day: str, service: str) -> dg.MultiPartitionKey:
    """The partition key of one day of one service's traffic."""
    return dg.MultiPartitionKey({WINDOW: day, SERVICE: service})


def split_window_service(context: dg.AssetExecutionContext) -> tuple[str, str]:
    """(service, day) of the monitoring window being materialized."""
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
