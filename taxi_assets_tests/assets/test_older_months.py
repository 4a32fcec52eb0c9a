"""Every TLC month: partitions from each service's first month, and the older column sets of the files."""

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from taxi_assets import constants
from taxi_assets.assets.features import trip_features
from taxi_assets.assets.ingestion import raw_trips, taxi_zones
from taxi_assets.definitions import build_resources
from taxi_assets.errors import NotTripDataError
from taxi_assets.ingestion.raw_schema import normalize_trip_table
from taxi_assets.partitions import month_partitions, month_service_key
from taxi_assets_tests.support import PROJECT_ROOT, TLC_DIR, real_trip_table

pytestmark = pytest.mark.slow  # ingests whole older months and runs the CLI


def as_2019_yellow(rows: int) -> pa.Table:
    """Real yellow trips laid out as the TLC published 2019.

    No airport or CBD fee, no congestion surcharge yet (it began in February 2019), integer codes and passenger
    counts, pickups moved into January 2019.
    """
    frame = real_trip_table("yellow", "2025-02").slice(0, rows).to_pandas()
    frame = frame.drop(columns=["Airport_fee", "cbd_congestion_fee", "congestion_surcharge"])
    frame = frame.dropna(subset=["passenger_count", "RatecodeID"])
    shift = pd.Timestamp("2019-01-01") - pd.Timestamp("2025-02-01")
    for column in ("tpep_pickup_datetime", "tpep_dropoff_datetime"):
        frame[column] = (frame[column] + shift).astype("datetime64[us]")
    for column in ("passenger_count", "RatecodeID", "payment_type"):
        frame[column] = frame[column].astype("int64")
    return pa.Table.from_pandas(frame, preserve_index=False)


def test_partitions_start_at_each_services_first_published_month() -> None:
    keys = month_partitions.get_partition_keys()
    assert keys[0] == "2009-01"
    assert constants.SERVICE_FIRST_MONTH == {"yellow": "2009-01", "green": "2013-08"}


@pytest.mark.slow
def test_a_2019_yellow_file_in_the_older_column_set_ingests(tmp_path: Path) -> None:
    trips = tmp_path / "trips"
    trips.mkdir()
    (trips / "taxi_zone_lookup.csv").write_bytes((TLC_DIR / "taxi_zone_lookup.csv").read_bytes())
    table = as_2019_yellow(3_000)
    assert "airport_fee" not in {name.lower() for name in table.column_names}
    pq.write_table(table, trips / "yellow_tripdata_2019-01.parquet")
    resources = build_resources({"TAXI_HOME": str(tmp_path / "home"), "TAXI_TRIPS_DIR": str(trips)})
    assert dg.materialize([taxi_zones], resources=resources).success
    result = dg.materialize(
        [raw_trips, trip_features], resources=resources, partition_key=str(month_service_key("2019-01", "yellow"))
    )
    assert result.success
    rows = {
        str(event.asset_key.path[-1]): event.step_materialization_data.materialization.metadata
        for event in result.get_asset_materialization_events()
    }
    assert rows["raw_trips"]["rows_in"].value == table.num_rows
    assert rows["raw_trips"]["rows_valid"].value > 0.9 * table.num_rows  # type: ignore[operator]
    assert rows["trip_features"]["rows_out"].value > 0.8 * table.num_rows  # type: ignore[operator]


def test_the_2009_and_2014_spellings_are_read_and_coordinates_are_refused_saying_why() -> None:
    rows = 3
    common = {"fare": [10.0, 12.5, 7.0], "distance": [1.2, 2.5, 0.8]}
    # 2014: LocationIDs did not exist yet (July 2016); RateCodeID spelled with a capital C
    coordinates = pa.table(
        {
            "vendor_id": ["CMT"] * rows,
            "pickup_datetime": pa.array([pd.Timestamp("2014-03-01 10:00")] * rows, pa.timestamp("us")),
            "dropoff_datetime": pa.array([pd.Timestamp("2014-03-01 10:12")] * rows, pa.timestamp("us")),
            "passenger_count": [1, 2, 1],
            "trip_distance": common["distance"],
            "pickup_longitude": [-73.98] * rows,
            "pickup_latitude": [40.75] * rows,
            "RateCodeID": [1, 1, 2],
            "dropoff_longitude": [-73.96] * rows,
            "dropoff_latitude": [40.77] * rows,
            "payment_type": ["CRD", "CSH", "CRD"],
            "fare_amount": common["fare"],
        }
    )
    with pytest.raises(NotTripDataError, match=r"coordinates.*before July 2016.*PULocationID"):
        normalize_trip_table(coordinates, source="yellow_tripdata_2014-03.parquet")
    # 2009: its own names, payment types as words
    words = pa.table(
        {
            "Trip_Pickup_DateTime": ["2009-01-04 02:52:00", "2009-01-04 03:31:00", "2009-01-03 15:43:00"],
            "Trip_Dropoff_DateTime": ["2009-01-04 03:02:00", "2009-01-04 03:38:00", "2009-01-03 15:57:00"],
            "Passenger_Count": [1, 3, 5],
            "Trip_Distance": common["distance"],
            "Rate_Code": [None, None, None],
            "Payment_Type": ["CASH", "Credit", "No Charge"],
            "Fare_Amt": common["fare"],
            "PULocationID": [161, 236, 48],
            "DOLocationID": [236, 161, 48],
        }
    )
    normalized = normalize_trip_table(words, source="yellow_tripdata_2009-01.parquet")
    assert normalized.column("payment_type").to_pylist() == [2, 1, 3]
    assert normalized.column("fare_amount").to_pylist() == common["fare"]
    assert normalized.column("pickup_datetime").to_pylist()[0] == pd.Timestamp("2009-01-04 02:52:00")


def test_a_green_month_before_green_existed_fails_saying_when_it_starts(tmp_path: Path) -> None:
    resources = build_resources({"TAXI_HOME": str(tmp_path), "TAXI_TRIPS_DIR": str(tmp_path)})
    result = dg.materialize(
        [raw_trips], resources=resources, partition_key=str(month_service_key("2012-05", "green")), raise_on_error=False
    )
    assert not result.success
    (failure,) = result.get_step_failure_events()
    message = failure.step_failure_data.error.message if failure.step_failure_data.error else ""
    assert "green trip records start in 2013-08" in message


@pytest.mark.parametrize("month", ["2008-12", "2099-01", "2022-13"])
def test_the_cli_rejects_a_month_outside_the_partitions_with_one_line(tmp_path: Path, month: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "taxi_tools.cli", "train", "--months", month],
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin", "TAXI_HOME": str(tmp_path), "TAXI_TRIPS_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert month in lines[0]
    assert "2009-01" in lines[0]
    assert "Traceback" not in completed.stderr
