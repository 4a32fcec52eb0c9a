"""One canonical schema for every TLC trip file, whatever its year or service.

The TLC has changed its files over the years: 2009 used its own names (``Trip_Pickup_DateTime``, ``Fare_Amt``,
``Rate_Code``, payment types as words such as ``CASH``), ``RateCodeID`` lost its capital C, files before July 2016
locate trips by coordinates instead of taxi zones (refused: the borough features need zone IDs), yellow uses
``tpep_`` and green ``lpep_`` timestamp prefixes,
``Airport_fee`` became ``airport_fee``, 2025 added ``cbd_congestion_fee``, code columns switch between int32,
int64 and double, timestamps between micro- and nanoseconds, strings between ``string`` and ``large_string``.
``normalize_trip_table`` maps any of them onto ``CANONICAL_SCHEMA`` so every later step sees one layout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from taxi_assets.errors import NotTripDataError

SOURCE_ROW: Final = "source_row"

CANONICAL_SCHEMA: Final = pa.schema(
    [
        pa.field(SOURCE_ROW, pa.int64(), nullable=False),
        pa.field("VendorID", pa.int64()),
        pa.field("pickup_datetime", pa.timestamp("us")),
        pa.field("dropoff_datetime", pa.timestamp("us")),
        pa.field("store_and_fwd_flag", pa.string()),
        pa.field("RatecodeID", pa.int64()),
        pa.field("PULocationID", pa.int64()),
        pa.field("DOLocationID", pa.int64()),
        pa.field("passenger_count", pa.int64()),
        pa.field("trip_distance", pa.float64()),
        pa.field("fare_amount", pa.float64()),
        pa.field("extra", pa.float64()),
        pa.field("mta_tax", pa.float64()),
        pa.field("tip_amount", pa.float64()),
        pa.field("tolls_amount", pa.float64()),
        pa.field("ehail_fee", pa.float64()),
        pa.field("improvement_surcharge", pa.float64()),
        pa.field("total_amount", pa.float64()),
        pa.field("payment_type", pa.int64()),
        pa.field("trip_type", pa.int64()),
        pa.field("congestion_surcharge", pa.float64()),
        pa.field("airport_fee", pa.float64()),
        pa.field("cbd_congestion_fee", pa.float64()),
    ]
)

# Without these a file is not usable trip data: the run fails and nothing is written.
REQUIRED_COLUMNS: Final = (
    "pickup_datetime",
    "dropoff_datetime",
    "PULocationID",
    "DOLocationID",
    "trip_distance",
    "fare_amount",
    "passenger_count",
    "RatecodeID",
    "payment_type",
)

# Source spellings that differ from the canonical name (compared case-insensitively).
_RENAMES: Final = {
    "tpep_pickup_datetime": "pickup_datetime",
    "lpep_pickup_datetime": "pickup_datetime",
    "tpep_dropoff_datetime": "dropoff_datetime",
    "lpep_dropoff_datetime": "dropoff_datetime",
    # 2009's own spellings
    "trip_pickup_datetime": "pickup_datetime",
    "trip_dropoff_datetime": "dropoff_datetime",
    "rate_code": "RatecodeID",
    "fare_amt": "fare_amount",
    "tip_amt": "tip_amount",
    "tolls_amt": "tolls_amount",
    "total_amt": "total_amount",
    "surcharge": "extra",
}
# Payment types written as words (2009-2014) and their codes.
PAYMENT_WORDS: Final = {
    "credit": 1,
    "crd": 1,
    "cre": 1,
    "cash": 2,
    "csh": 2,
    "cas": 2,
    "no charge": 3,
    "noc": 3,
    "no": 3,
    "dispute": 4,
    "dis": 4,
    "unknown": 5,
    "unk": 5,
    "na": 5,
    "voided": 6,
}
# Columns of the files that locate trips by coordinates (before July 2016).
_COORDINATES: Final = ("pickup_longitude", "start_lon", "pickup_latitude", "start_lat")
_CANONICAL_BY_LOWER: Final = {name.lower(): name for name in CANONICAL_SCHEMA.names}


def read_trip_file(path: Path) -> pa.Table:
    """Read a TLC parquet file and normalise it, or fail naming the file and what is wrong.

    Raises:
        NotTripDataError: the file is not parquet, or lacks columns every trip file has.
    """
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise NotTripDataError(path, f"it is not a readable parquet file ({exc})") from exc
    return normalize_trip_table(table, source=path)


def canonical_name(column: str) -> str | None:
    """Return the canonical name of a source column, or None when the column is not part of the schema."""
    lowered = column.lower()
    if lowered in _RENAMES:
        return _RENAMES[lowered]
    return _CANONICAL_BY_LOWER.get(lowered)


def normalize_trip_table(table: pa.Table, source: Path | str) -> pa.Table:
    """Map a TLC trip table of any vintage onto ``CANONICAL_SCHEMA``.

    Columns are renamed, cast to the canonical types (code columns must hold whole numbers), optional
    columns a vintage lacks are added as nulls, and ``source_row`` records each row's position in the file
    so every later row can be traced back.

    Raises:
        NotTripDataError: a required column is missing or a column cannot be cast.
    """
    columns: dict[str, pa.ChunkedArray] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        target = canonical_name(name)
        if target is not None and target != SOURCE_ROW:
            columns[target] = column
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if {"PULocationID", "DOLocationID"} & set(missing) and {c.lower() for c in table.column_names} & set(_COORDINATES):
        raise NotTripDataError(
            source,
            "it locates trips by coordinates (pickup_longitude/pickup_latitude), as TLC files before July 2016 do; "
            "the borough features need taxi zone IDs (PULocationID, DOLocationID), which the TLC publishes from "
            "2016-07 on",
        )
    if missing:
        raise NotTripDataError(source, f"required columns are missing: {', '.join(missing)}")

    arrays: list[pa.ChunkedArray | pa.Array] = [pa.array(range(table.num_rows), type=pa.int64())]
    for field in list(CANONICAL_SCHEMA)[1:]:
        column = columns.get(field.name)
        if column is None:
            arrays.append(pa.nulls(table.num_rows, type=field.type))
            continue
        arrays.append(_cast(column, field, source))
    return pa.Table.from_arrays(arrays, schema=CANONICAL_SCHEMA)


def _cast(column: pa.ChunkedArray, field: pa.Field, source: Path | str) -> pa.ChunkedArray:
    if field.name == "payment_type" and _is_text(column.type):
        column = _payment_codes(column)
    if pa.types.is_timestamp(field.type) and _is_text(column.type):
        try:
            return pc.cast(pc.strptime(column, format="%Y-%m-%d %H:%M:%S", unit="us"), field.type)
        except pa.ArrowInvalid as exc:
            raise NotTripDataError(source, f"column {field.name} holds text that is not a timestamp ({exc})") from exc
    if pa.types.is_timestamp(field.type) and pa.types.is_timestamp(column.type):
        # ns -> us drops sub-microsecond digits the TLC never fills; a timezone, if any, is dropped.
        column = pc.cast(column, pa.timestamp(column.type.unit), safe=False)
        return pc.cast(column, field.type, safe=False)
    try:
        return pc.cast(column, field.type, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise NotTripDataError(
            source, f"column {field.name} of type {column.type} cannot be read as {field.type} ({exc})"
        ) from exc


def _is_text(kind: pa.DataType) -> bool:
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def _payment_codes(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Payment types written as words (``CASH``, ``Credit``, ``No Charge``) as the codes of later files.

    Digits stay as they are; an unknown word becomes 5 (unknown), as the TLC codes it.
    """
    words = [None if value is None else str(value).strip().lower() for value in column.to_pylist()]
    codes = [None if word is None else (int(word) if word.isdigit() else PAYMENT_WORDS.get(word, 5)) for word in words]
    return pa.chunked_array([pa.array(codes, type=pa.int64())])
