"""pandera validation of canonical raw trips: schema errors fail, value-rule breaches are quarantined.

A file whose columns or dtypes are wrong is not trip data and fails as a whole. A row that breaks a value
rule (a named check below) is moved to the quarantine with the names of every rule it broke; the rest pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
import pandera.pandas as pa_schema
import pyarrow as pa
from pandera.errors import SchemaErrors

from taxi_assets import constants
from taxi_assets.errors import NotTripDataError, TooManyInvalidRowsError
from taxi_assets.ingestion.raw_schema import CANONICAL_SCHEMA, SOURCE_ROW

QUARANTINE_RULES: Final = "quarantine_rules"
MIN_LOCATION_ID: Final = 1
MAX_LOCATION_ID: Final = 265
RATECODE_IDS: Final = constants.RATECODE_IDS
PAYMENT_TYPES: Final = constants.PAYMENT_TYPES

RowRule = Callable[[pd.DataFrame], pd.Series]


@dataclass(frozen=True)
class RawValidationResult:
    """Rows that passed, rows quarantined (with ``quarantine_rules``), and the count of rows per rule."""

    valid: pa.Table
    quarantine: pa.Table
    rows_by_rule: dict[str, int]

    @property
    def rows_in(self) -> int:
        """Rows read from the file."""
        return self.valid.num_rows + self.quarantine.num_rows

    @property
    def invalid_share(self) -> float:
        """Share of the file's rows that were quarantined."""
        return self.quarantine.num_rows / self.rows_in if self.rows_in else 0.0


def value_rules(month_start: date, slack_days: int) -> dict[str, RowRule]:
    """The named row rules; each returns True where a row is valid.

    Args:
        month_start: first day of the partition month; pickups must fall in that month +- ``slack_days``.
        slack_days: days of tolerance either side of the month (trips that cross midnight at a month end).
    """
    low = pd.Timestamp(datetime.combine(month_start, datetime.min.time()) - timedelta(days=slack_days))
    next_month = (month_start.replace(day=28) + timedelta(days=4)).replace(day=1)
    high = pd.Timestamp(datetime.combine(next_month, datetime.min.time()) + timedelta(days=slack_days))

    def location_ok(frame: pd.DataFrame) -> pd.Series:
        ok = pd.Series(True, index=frame.index)
        for column in ("PULocationID", "DOLocationID"):
            ok &= frame[column].between(MIN_LOCATION_ID, MAX_LOCATION_ID).fillna(False).astype(bool)
        return ok

    return {
        "missing_timestamp": lambda f: f["pickup_datetime"].notna() & f["dropoff_datetime"].notna(),
        "dropoff_before_pickup": lambda f: ~(f["dropoff_datetime"] < f["pickup_datetime"]).fillna(False),
        "pickup_outside_month": lambda f: (
            ~((f["pickup_datetime"] < low) | (f["pickup_datetime"] >= high)).fillna(False)
        ),
        "location_id_out_of_range": location_ok,
        "negative_or_missing_fare": lambda f: (f["fare_amount"] >= 0).fillna(False).astype(bool),
        "negative_or_missing_distance": lambda f: (f["trip_distance"] >= 0).fillna(False).astype(bool),
        "negative_passenger_count": lambda f: (f["passenger_count"] >= 0).fillna(True).astype(bool),
        "unknown_ratecode": lambda f: f["RatecodeID"].isin(RATECODE_IDS) | f["RatecodeID"].isna(),
        "unknown_payment_type": lambda f: f["payment_type"].isin(PAYMENT_TYPES) | f["payment_type"].isna(),
    }


def raw_trip_schema(month_start: date, slack_days: int) -> pa_schema.DataFrameSchema:
    """The pandera schema of canonical raw trips: dtypes per column plus the named value rules."""
    pandas_dtypes = _pandas_frame(CANONICAL_SCHEMA.empty_table()).dtypes
    columns = {
        name: pa_schema.Column(pandas_dtypes[name], nullable=name != SOURCE_ROW, required=True)
        for name in CANONICAL_SCHEMA.names
    }
    checks = [pa_schema.Check(rule, name=name) for name, rule in value_rules(month_start, slack_days).items()]
    return pa_schema.DataFrameSchema(columns, checks=checks, strict=True, coerce=False)


def validate_raw_trips(
    table: pa.Table,
    source: Path | str,
    month_start: date,
    slack_days: int,
    max_invalid_share: float,
) -> RawValidationResult:
    """Validate a canonical trip table; split it into valid rows and a quarantine.

    Raises:
        NotTripDataError: a column is missing or has the wrong dtype (the whole file is rejected).
        TooManyInvalidRowsError: the quarantined share is above ``max_invalid_share``.
    """
    frame = _pandas_frame(table)
    schema = raw_trip_schema(month_start, slack_days)
    rule_names = [check.name for check in schema.checks]
    failed_rules: dict[int, list[str]] = {}
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
        row_cases = cases[cases["check"].isin(rule_names) & cases["index"].notna()]
        structural = cases[~cases.index.isin(row_cases.index)]
        if not structural.empty:
            problems = sorted({f"{r.column}: {r.check} ({r.failure_case})" for r in structural.itertuples()})
            raise NotTripDataError(source, "; ".join(problems)) from exc
        for row, rule in row_cases[["index", "check"]].drop_duplicates().itertuples(index=False):
            failed_rules.setdefault(int(row), []).append(str(rule))

    rows_by_rule = dict.fromkeys(rule_names, 0)
    for rules in failed_rules.values():
        for rule in rules:
            rows_by_rule[rule] += 1
    invalid = np.zeros(table.num_rows, dtype=bool)
    invalid[list(failed_rules)] = True
    if invalid.sum() > max_invalid_share * table.num_rows:
        raise TooManyInvalidRowsError(source, int(invalid.sum()), table.num_rows, max_invalid_share, rows_by_rule)

    quarantine = table.filter(pa.array(invalid))
    order = {name: position for position, name in enumerate(rule_names)}
    reasons = [",".join(sorted(failed_rules[row], key=order.__getitem__)) for row in np.flatnonzero(invalid).tolist()]
    quarantine = quarantine.append_column(QUARANTINE_RULES, pa.array(reasons, type=pa.string()))
    return RawValidationResult(valid=table.filter(pa.array(~invalid)), quarantine=quarantine, rows_by_rule=rows_by_rule)


def _pandas_frame(table: pa.Table) -> pd.DataFrame:
    """Arrow -> pandas keeping integer columns nullable (Int64) instead of turning them into floats."""
    return table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype(), pa.string(): pd.StringDtype()}.get)
