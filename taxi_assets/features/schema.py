"""pandera schema of the feature table, and a content hash that does not depend on row order."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pandera.pandas as pa_schema
import pyarrow.parquet as pq
from pandera.errors import SchemaErrors

from taxi_assets.errors import TaxiDataError
from taxi_assets.features.columns import (
    FEATURE_TABLE_COLUMNS,
    PICKUP_DATETIME,
    TARGET,
    TRIP_ID,
    OutlierBounds,
)
from taxi_assets.ingestion.raw_validation import PAYMENT_TYPES, RATECODE_IDS
from taxi_assets.lake_storage import LakeLocation

BOROUGHS = ("Bronx", "Brooklyn", "EWR", "Manhattan", "Queens", "Staten Island", "Unknown")


def feature_schema(bounds: OutlierBounds) -> pa_schema.DataFrameSchema:
    """Every feature row: no nulls, types as trained on, values inside the outlier bounds and code sets."""
    col = pa_schema.Column
    check = pa_schema.Check
    binary = check.isin([0, 1])
    return pa_schema.DataFrameSchema(
        {
            TRIP_ID: col(str, unique=True),
            PICKUP_DATETIME: col("datetime64[us]"),
            "trip_distance": col(float, check.in_range(bounds.min_distance_miles, bounds.max_distance_miles)),
            "passenger_count": col("int32", check.in_range(bounds.min_passengers, bounds.max_passengers)),
            "pickup_hour": col("int32", check.in_range(0, 23)),
            "pickup_day_of_week": col("int32", check.in_range(0, 6)),
            "pickup_month": col("int32", check.in_range(1, 12)),
            "trip_duration_minutes": col(
                float, check.in_range(bounds.min_duration_minutes, bounds.max_duration_minutes)
            ),
            "is_weekend": col("int32", binary),
            "is_rush_hour": col("int32", binary),
            "RatecodeID": col("int32", check.isin(list(RATECODE_IDS))),
            "payment_type": col("int32", check.isin(list(PAYMENT_TYPES))),
            "pickup_borough": col(str, check.isin(list(BOROUGHS))),
            "dropoff_borough": col(str, check.isin(list(BOROUGHS))),
            TARGET: col(float, check.in_range(bounds.min_fare_usd, bounds.max_fare_usd)),
        },
        checks=[
            check(lambda f: ~((f["is_rush_hour"] == 1) & (f["is_weekend"] == 1)), name="no_weekend_rush_hour"),
        ],
        strict=True,
        ordered=True,
    )


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
        summary = exc.failure_cases.groupby(["column", "check"], dropna=False).size().rename("rows").reset_index()
        problems = "; ".join(f"{r.column}: {r.check} ({r.rows} rows)" for r in summary.itertuples())
        raise TaxiDataError(f"{source}: feature table fails its schema: {problems}") from exc


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
