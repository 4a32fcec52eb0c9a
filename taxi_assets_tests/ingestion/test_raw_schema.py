from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from taxi_assets.errors import NotTripDataError
from taxi_assets.ingestion.raw_schema import CANONICAL_SCHEMA, SOURCE_ROW, normalize_trip_table, read_trip_file
from taxi_assets_tests.support import TLC_DIR

SHARED_FILES = sorted(TLC_DIR.rglob("*_tripdata_*.parquet"))


def test_the_shared_folder_holds_every_file_the_tests_rely_on() -> None:
    names = {path.name for path in SHARED_FILES}
    assert "green_tripdata_2023-02.parquet" in names
    assert "yellow_tripdata_2025-01.parquet" in names
    assert len(SHARED_FILES) == 7


@pytest.mark.parametrize("path", SHARED_FILES, ids=lambda p: p.name)
def test_every_shared_file_normalises_to_the_canonical_schema(path: Path) -> None:
    source = pq.read_table(path)
    table = read_trip_file(path)
    assert table.schema.equals(CANONICAL_SCHEMA)
    assert table.num_rows == source.num_rows
    assert table.column(SOURCE_ROW).to_pylist()[:3] == [0, 1, 2]
    fares = source.column("fare_amount").to_pylist()
    assert table.column("fare_amount").to_pylist() == fares
    prefix = "tpep" if path.name.startswith("yellow") else "lpep"
    pickups = pa.compute.cast(source.column(f"{prefix}_pickup_datetime"), pa.timestamp("us"))
    assert table.column("pickup_datetime").equals(pickups)


def test_green_dtype_change_between_2023_01_and_02_loads_to_the_same_types() -> None:
    january = pq.read_schema(TLC_DIR / "green" / "green_tripdata_2023-01.parquet")
    february = pq.read_schema(TLC_DIR / "green" / "green_tripdata_2023-02.parquet")
    assert january.field("RatecodeID").type != february.field("RatecodeID").type
    assert february.field("store_and_fwd_flag").type == pa.large_string()
    loaded = [read_trip_file(TLC_DIR / "green" / f"green_tripdata_2023-0{m}.parquet") for m in (1, 2)]
    assert loaded[0].schema.equals(loaded[1].schema)
    # codes that were doubles become whole numbers, nulls stay null
    ratecodes = set(loaded[0].column("RatecodeID").to_pylist())
    assert ratecodes <= {1, 2, 3, 4, 5, 6, 99, None}


def test_yellow_2025_keeps_cbd_congestion_fee_and_airport_fee() -> None:
    table = read_trip_file(TLC_DIR / "yellow_tripdata_2025-01.parquet")
    source = pq.read_table(TLC_DIR / "yellow_tripdata_2025-01.parquet")
    assert table.column("cbd_congestion_fee").to_pylist() == source.column("cbd_congestion_fee").to_pylist()
    assert table.column("airport_fee").to_pylist() == source.column("Airport_fee").to_pylist()
    assert source.schema.field("tpep_pickup_datetime").type == pa.timestamp("ns")


def test_green_files_without_the_2025_columns_get_nulls() -> None:
    table = read_trip_file(TLC_DIR / "green" / "green_tripdata_2022-01.parquet")
    assert table.column("cbd_congestion_fee").null_count == table.num_rows
    assert table.column("airport_fee").null_count == table.num_rows


def test_a_csv_renamed_to_parquet_fails_naming_the_file(tmp_path: Path) -> None:
    fake = tmp_path / "green_tripdata_2022-01.parquet"
    fake.write_text("VendorID,fare_amount\n1,10.0\n")
    with pytest.raises(NotTripDataError, match=r"green_tripdata_2022-01\.parquet is not TLC trip data: it is not"):
        read_trip_file(fake)


def test_a_file_without_fare_amount_fails_naming_the_column(tmp_path: Path) -> None:
    table = pq.read_table(TLC_DIR / "green" / "green_tripdata_2022-01.parquet").slice(0, 50)
    path = tmp_path / "no_fare.parquet"
    pq.write_table(table.drop_columns(["fare_amount"]), path)
    with pytest.raises(NotTripDataError, match=r"no_fare.parquet .*required columns are missing: fare_amount"):
        read_trip_file(path)


def test_fractional_code_values_are_not_silently_truncated() -> None:
    table = pa.table(
        {name: pa.array([1.0], type=pa.float64()) for name in ("PULocationID", "DOLocationID")}
        | {
            "lpep_pickup_datetime": pa.array([0], type=pa.timestamp("us")),
            "lpep_dropoff_datetime": pa.array([60_000_000], type=pa.timestamp("us")),
            "trip_distance": [1.0],
            "fare_amount": [5.0],
            "passenger_count": [1.0],
            "RatecodeID": [1.5],
            "payment_type": [1.0],
        }
    )
    with pytest.raises(NotTripDataError, match="column RatecodeID of type double cannot be read as int64"):
        normalize_trip_table(table, source="made-up")
