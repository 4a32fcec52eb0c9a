"""Ingestion: TLC trip files to canonical, validated raw trips (with a quarantine), and the zone lookup."""

from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from taxi_assets import constants
from taxi_assets.assets.common import failing_clearly
from taxi_assets.errors import MissingInputError, NotTripDataError
from taxi_assets.features.columns import UNKNOWN_BOROUGH, UNKNOWN_LOCATION_IDS
from taxi_assets.ingestion.raw_schema import read_trip_file
from taxi_assets.ingestion.raw_validation import RawValidationResult, validate_raw_trips
from taxi_assets.lake_storage import write_parquet_atomic
from taxi_assets.partitions import monthly_service_partitions, split_month_service
from taxi_assets.resources import DataLake, FetchedFile, TripSource

ZONE_COLUMNS = ("LocationID", "Borough", "Zone", "service_zone")


class RawTripsConfig(dg.Config):
    """Validation limits for raw trips."""

    max_invalid_share: float = Field(
        default=constants.MAX_INVALID_SHARE,
        description="Fail the run when more than this share of a file's rows breaks a value rule.",
    )
    pickup_slack_days: int = Field(
        default=constants.PICKUP_MONTH_SLACK_DAYS,
        description="Days a pickup may fall outside the file's month before the row is quarantined.",
    )


@dg.asset(
    partitions_def=monthly_service_partitions,
    group_name=constants.INGESTION_GROUP,
    kinds={"parquet", "pandas"},
    code_version="1",
)
def raw_trips(
    context: dg.AssetExecutionContext, config: RawTripsConfig, trip_source: TripSource, lake: DataLake
) -> dg.MaterializeResult:
    """One TLC monthly trip file in the canonical schema; rows breaking a value rule go to the quarantine.

    A file that is not TLC trip data (not parquet, required columns missing) fails the run and writes nothing.
    """
    service, month = split_month_service(context)
    with failing_clearly():
        first = constants.SERVICE_FIRST_MONTH[service]
        if month < first:
            raise MissingInputError(f"{service} trip records start in {first}: the TLC has no file for {month}")
        fetched = trip_source.fetch_trips(service, month, lake.downloads())
        table = read_trip_file(fetched.path)
        result = validate_raw_trips(
            table,
            source=fetched.path,
            month_start=datetime.strptime(month, constants.MONTH_FORMAT).date(),
            slack_days=config.pickup_slack_days,
            max_invalid_share=config.max_invalid_share,
        )
    write_parquet_atomic(result.valid, lake.raw(service, month))
    write_parquet_atomic(result.quarantine, lake.quarantine(service, month))
    paths = {"path": lake.raw(service, month), "quarantine_path": lake.quarantine(service, month)}
    return dg.MaterializeResult(
        metadata=_raw_metadata(fetched, result) | {key: dg.MetadataValue.path(str(path)) for key, path in paths.items()}
    )


def _raw_metadata(fetched: FetchedFile, result: RawValidationResult) -> dict[str, Any]:
    pickups = result.valid.column("pickup_datetime")
    return {
        "source": fetched.origin,
        "source_bytes": fetched.size_bytes,
        "source_sha256": fetched.sha256,
        "rows_in": result.rows_in,
        "rows_valid": result.valid.num_rows,
        "rows_quarantined": result.quarantine.num_rows,
        "invalid_share": round(result.invalid_share, 6),
        "quarantine_by_rule": dg.MetadataValue.json(result.rows_by_rule),
        **{f"quarantine_{rule}": count for rule, count in result.rows_by_rule.items()},
        "pickup_min": str(pc.min(pickups).as_py()),
        "pickup_max": str(pc.max(pickups).as_py()),
    }


@dg.asset(group_name=constants.INGESTION_GROUP, kinds={"parquet", "pandas"}, code_version="1")
def taxi_zones(trip_source: TripSource, lake: DataLake) -> dg.MaterializeResult:
    """The TLC zone lookup (LocationID -> borough); LocationIDs 264 and 265 map to the "Unknown" borough."""
    with failing_clearly():
        fetched = trip_source.fetch_zone_lookup(lake.downloads())
        zones = read_zone_lookup(fetched.path)
    write_parquet_atomic(pa.Table.from_pandas(zones, preserve_index=False), lake.zones())
    return dg.MaterializeResult(
        metadata={
            "source": fetched.origin,
            "source_sha256": fetched.sha256,
            "rows": len(zones),
            "boroughs": dg.MetadataValue.json(
                {str(k): int(v) for k, v in zones["Borough"].value_counts().sort_index().items()}
            ),
            "path": dg.MetadataValue.path(str(lake.zones())),
        }
    )


def read_zone_lookup(path: Path) -> pd.DataFrame:
    """Read the zone lookup CSV (its ``N/A`` is a value, not a null) and set the unknown zones' borough.

    Raises:
        NotTripDataError: the file lacks the lookup's columns.
    """
    zones = pd.read_csv(path, keep_default_na=False, dtype={"Borough": str, "Zone": str, "service_zone": str})
    missing = [column for column in ZONE_COLUMNS if column not in zones.columns]
    if missing:
        raise NotTripDataError(str(path), f"zone lookup columns are missing: {', '.join(missing)}")
    zones = zones[list(ZONE_COLUMNS)].astype({"LocationID": "int64"})
    zones.loc[zones["LocationID"].isin(UNKNOWN_LOCATION_IDS), "Borough"] = UNKNOWN_BOROUGH
    return zones
