"""pandera schema of the feature table, and a content hash that does not depend on row order."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pandas as pd
import pandera.pandas as pa_schema
import pyarrow.parquet as pq
from pandera.errors import SchemaErrors

from taxi_assets.errors import TaxiDataError
from taxi_assets.features.columns import (
    FEATURE_TABLE_COLUMNS,
    FEATURES,
    PICKUP_DATETIME,
    TARGET,
    TRIP_ID,
    WEEKEND_DAYS,
    OutlierBounds,
)
from taxi_assets.features.trip_rules import Rule, rush_hours, speed_range, trip_rules
from taxi_assets.lake_storage import LakeLocation

# the checks that read several columns of a row
ACROSS_COLUMNS: Final = ("speed", "is_weekend_follows_day", "is_rush_hour_follows_day_and_hour")
# how each rule's type is stored in the feature table
_DTYPES = {int: "int32", float: float, str: str}


def feature_schema(bounds: OutlierBounds) -> pa_schema.DataFrameSchema:
    """Every feature row: no nulls, types as trained on, and the trip rules of ``features.trip_rules``."""
    rules = trip_rules(bounds)
    columns = {TRIP_ID: pa_schema.Column(str, unique=True), PICKUP_DATETIME: pa_schema.Column("datetime64[us]")}
    for name in (*FEATURES, TARGET):
        columns[name] = pa_schema.Column(_DTYPES[rules[name].kind], _check(rules[name]))
    low, high = speed_range(bounds)
    weekdays = [day for day in range(7) if day not in WEEKEND_DAYS]

    def speed_ok(f: pd.DataFrame) -> pd.Series:
        minutes = f["trip_duration_minutes"]
        speed = f["trip_distance"] / (minutes / 60.0)
        return (minutes > 0) & speed.between(low, high)

    def weekend_ok(f: pd.DataFrame) -> pd.Series:
        return f["is_weekend"] == f["pickup_day_of_week"].isin(WEEKEND_DAYS).astype("int32")

    def rush_ok(f: pd.DataFrame) -> pd.Series:
        rush = f["pickup_day_of_week"].isin(weekdays) & f["pickup_hour"].isin(rush_hours())
        return f["is_rush_hour"] == rush.astype("int32")

    checks = [
        pa_schema.Check(check, name=name)
        for name, check in zip(ACROSS_COLUMNS, (speed_ok, weekend_ok, rush_ok), strict=True)
    ]
    return pa_schema.DataFrameSchema(columns, checks=checks, strict=True, ordered=True)


def _check(rule: Rule) -> pa_schema.Check:
    if rule.allowed:
        return pa_schema.Check.isin(list(rule.allowed))
    return pa_schema.Check.in_range(rule.low, rule.high)


def read_feature_table(path: Path | LakeLocation) -> pd.DataFrame:
    """Read a feature table (a parquet file or a folder of parts) into pandas, columns in canonical order.

    A folder output of the lake is read at its committed generation (:func:`taxi_assets.lake_storage.read_committed`).
    """
    if isinstance(path, LakeLocation):
        return pq.read_table(path.path, columns=list(FEATURE_TABLE_COLUMNS), filesystem=path.fs).to_pandas()
    return pq.read_table(path, columns=list(FEATURE_TABLE_COLUMNS)).to_pandas()


def validate_features(frame: pd.DataFrame, bounds: OutlierBounds, source: Path | str) -> None:
    """Validate a feature table; raise with every failure summarised (lazy validation)."""
    try:
        feature_schema(bounds).validate(frame, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
        across = cases["check"].isin(ACROSS_COLUMNS)  # a check of the whole row reports each of its columns
        summary = cases[~across].groupby(["column", "check"], dropna=False).size().rename("rows").reset_index()
        problems = [f"{r.column}: {r.check} ({r.rows} rows)" for r in summary.itertuples()]
        for check, rows in cases[across].groupby("check")["index"].nunique().items():
            problems.append(f"{check} ({rows} rows)")
        raise TaxiDataError(f"{source}: feature table fails its schema: {'; '.join(problems)}") from exc


@dataclass(frozen=True)
class FeatureTableSummary:
    """What a written feature table holds: rows, content hash, pickup range, mean fare and days with trips."""

    rows: int
    content_hash: str
    pickup_min: str
    pickup_max: str
    mean_fare: float
    # distinct pickup dates: whether the table covers its month or one night of it
    days: int = 0


def summarize_feature_table(frame: pd.DataFrame) -> FeatureTableSummary:
    """Summarise a feature table read back from the lake."""
    return FeatureTableSummary(
        rows=len(frame),
        content_hash=content_hash(frame),
        pickup_min=str(frame[PICKUP_DATETIME].min()),
        pickup_max=str(frame[PICKUP_DATETIME].max()),
        mean_fare=round(float(frame[TARGET].mean()), 4),
        days=int(pd.to_datetime(frame[PICKUP_DATETIME]).dt.normalize().nunique()),
    )


def content_hash(frame: pd.DataFrame) -> str:
    """sha256 of the rows ordered by trip id: equal for equal content, whatever the file layout."""
    ordered = frame.sort_values(TRIP_ID, kind="stable").reset_index(drop=True)
    row_hashes = pd.util.hash_pandas_object(ordered, index=False).to_numpy()
    digest = hashlib.sha256(row_hashes.tobytes())
    digest.update(",".join(f"{name}:{dtype}" for name, dtype in ordered.dtypes.items()).encode())
    return digest.hexdigest()
