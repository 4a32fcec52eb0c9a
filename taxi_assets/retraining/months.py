"""What a retraining trains on: the newest complete TLC months before the failing window, checked before use.

Pure rules; the sensor asks the lake and the trip source which months exist, ``training_set`` applies the guard.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from taxi_assets import constants

MONTH_FORMAT: Final = "%Y-%m"


def months_before(day: str | date, horizon: int) -> list[str]:
    """The ``horizon`` months before the month of ``day``, newest first (that month itself is not complete)."""
    when = date.fromisoformat(day) if isinstance(day, str) else day
    year, month = when.year, when.month
    months = []
    for _ in range(horizon):
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        months.append(f"{year:04d}-{month:02d}")
    return months


def newest_available(day: str | date, count: int, available: Callable[[str], bool], first: str) -> list[str]:
    """Up to ``count`` of the newest months before ``day`` (back to ``first``) that are ``available``, oldest first.

    Months are asked newest first and the search stops at ``count``: a source that answers over the network is
    asked about as few months as it takes.
    """
    when = date.fromisoformat(day) if isinstance(day, str) else day
    start = date.fromisoformat(f"{first}-01")
    horizon = max(0, (when.year - start.year) * 12 + when.month - start.month)
    found: list[str] = []
    for month in months_before(when, horizon):
        if len(found) == count:
            break
        if available(month):
            found.append(month)
    return sorted(found)


@dataclass(frozen=True)
class MonthGuard:
    """What a month must hold to be trained on as a whole month."""

    min_rows: int = constants.RETRAIN_MIN_MONTH_ROWS
    min_days: int = constants.RETRAIN_MIN_MONTH_DAYS
    min_coverage: float = constants.RETRAIN_MIN_MONTH_COVERAGE


def month_problems(month: str, manifest: Mapping[str, Any], guard: MonthGuard) -> list[str]:
    """Why the features of ``month`` (their lake manifest) cannot stand for the whole month; empty when they can.

    Coverage is the share of the month's days with at least one trip. Manifests written before the day count was
    recorded give the span between the first and the last pickup instead (an upper bound of the days).
    """
    year, number = (int(part) for part in month.split("-"))
    days_in_month = calendar.monthrange(year, number)[1]
    rows = int(manifest.get("rows", 0))
    days = int(manifest["days"]) if "days" in manifest else _span_days(manifest)
    problems = []
    if rows < guard.min_rows:
        problems.append(f"{rows:,} trips < {guard.min_rows:,}")
    if days < guard.min_days:
        problems.append(f"trips on {days} distinct days < {guard.min_days}")
    if days / days_in_month < guard.min_coverage:
        problems.append(f"{days} of {days_in_month} days covered < {guard.min_coverage:.0%}")
    return [f"{month}: {problem}" for problem in problems]


def _span_days(manifest: Mapping[str, Any]) -> int:
    first, last = manifest.get("pickup_min"), manifest.get("pickup_max")
    if not first or not last:
        return 0
    return (date.fromisoformat(str(last)[:10]) - date.fromisoformat(str(first)[:10])).days + 1
