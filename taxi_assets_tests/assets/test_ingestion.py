from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq
import pytest

from taxi_assets.assets.ingestion import raw_trips, taxi_zones
from taxi_assets.definitions import build_resources
from taxi_assets.ingestion.raw_schema import CANONICAL_SCHEMA, SOURCE_ROW
from taxi_assets.ingestion.raw_validation import QUARANTINE_RULES
from taxi_assets.partitions import month_service_key
from taxi_assets.resources import DataLake
from taxi_assets_tests.support import TLC_DIR, write_trip_file

JANUARY = month_service_key("2022-01", "green")


def materialize_raw(
    home: Path, trips_dir: Path, partition: dg.MultiPartitionKey = JANUARY
) -> dg.ExecuteInProcessResult:
    resources = build_resources({"TAXI_HOME": str(home), "TAXI_TRIPS_DIR": str(trips_dir)})
    return dg.materialize([raw_trips], resources=resources, partition_key=str(partition), raise_on_error=False)


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    (event,) = result.get_step_failure_events()
    error = event.step_failure_data.error
    assert error is not None
    return error.message


def metadata(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    (event,) = result.get_asset_materialization_events()
    return {key: value.value for key, value in event.step_materialization_data.materialization.metadata.items()}


def test_raw_trips_of_a_real_month_records_counts_and_quarantine(tmp_path: Path) -> None:
    result = materialize_raw(tmp_path / "home", TLC_DIR)
    assert result.success
    meta = metadata(result)
    source = pd.read_parquet(TLC_DIR / "green" / "green_tripdata_2022-01.parquet")
    negative = int((source["fare_amount"] < 0).sum())
    early = int((source["lpep_pickup_datetime"] < pd.Timestamp("2021-12-31")).sum())
    assert meta["rows_in"] == len(source)
    assert meta["quarantine_negative_or_missing_fare"] == negative
    assert meta["quarantine_pickup_outside_month"] == early
    assert meta["rows_quarantined"] == negative + early
    assert meta["rows_valid"] == len(source) - negative - early
    assert meta["source_sha256"] == "6a9efa68165ed2c52ec130cc9d8098b9e8a876f4316c17ddcbc170e46c45ad1d"
    lake = DataLake(root=str(tmp_path / "home" / "lake"))
    written = pq.read_table(str(lake.raw("green", "2022-01")))
    assert written.schema.equals(CANONICAL_SCHEMA)
    assert written.num_rows == meta["rows_valid"]
    assert pq.read_table(str(lake.quarantine("green", "2022-01"))).num_rows == meta["rows_quarantined"]


def test_a_csv_renamed_to_parquet_fails_clearly_and_writes_nothing(tmp_path: Path, trips_dir: Path) -> None:
    (trips_dir / "green_tripdata_2022-01.parquet").write_text("VendorID,fare_amount\n1,5.0\n")
    result = materialize_raw(tmp_path / "home", trips_dir)
    assert not result.success
    message = failure_message(result)
    assert "green_tripdata_2022-01.parquet is not TLC trip data: it is not a readable parquet file" in message
    assert not (tmp_path / "home" / "lake" / "raw").exists()
    assert not (tmp_path / "home" / "lake" / "quarantine").exists()


def test_a_parquet_without_fare_amount_fails_clearly_and_writes_nothing(tmp_path: Path, trips_dir: Path) -> None:
    write_trip_file(trips_dir, "green", "2022-01", rows=200, edit=lambda frame: None)
    table = pq.read_table(trips_dir / "green_tripdata_2022-01.parquet").drop_columns(["fare_amount"])
    pq.write_table(table, trips_dir / "green_tripdata_2022-01.parquet")
    result = materialize_raw(tmp_path / "home", trips_dir)
    assert not result.success
    assert "required columns are missing: fare_amount" in failure_message(result)
    assert not (tmp_path / "home" / "lake" / "raw").exists()


def test_a_file_with_bad_rows_quarantines_exactly_those_rows(tmp_path: Path, trips_dir: Path) -> None:
    def break_rows(frame: pd.DataFrame) -> None:
        frame["fare_amount"] = frame["fare_amount"].abs()  # the real refunds would be quarantined too
        frame.loc[5, "fare_amount"] = -12.0
        frame.loc[17, "PULocationID"] = 300
        frame.loc[42, "lpep_dropoff_datetime"] = frame.loc[42, "lpep_pickup_datetime"] - pd.Timedelta(hours=1)

    write_trip_file(trips_dir, "green", "2022-01", rows=300, edit=break_rows)
    result = materialize_raw(tmp_path / "home", trips_dir)
    assert result.success
    quarantine = pq.read_table(tmp_path / "home" / "lake" / "quarantine" / "green" / "2022-01.parquet")
    assert quarantine.column(SOURCE_ROW).to_pylist() == [5, 17, 42]
    assert quarantine.column(QUARANTINE_RULES).to_pylist() == [
        "negative_or_missing_fare",
        "location_id_out_of_range",
        "dropoff_before_pickup",
    ]
    meta = metadata(result)
    assert (meta["rows_valid"], meta["rows_quarantined"]) == (297, 3)


def test_too_many_bad_rows_fail_the_run_with_the_rule_counts(tmp_path: Path, trips_dir: Path) -> None:
    def break_rows(frame: pd.DataFrame) -> None:
        frame.loc[:19, "fare_amount"] = -1.0

    write_trip_file(trips_dir, "green", "2022-01", rows=100, edit=break_rows)
    result = materialize_raw(tmp_path / "home", trips_dir)
    assert not result.success
    assert "20 of 100 rows (20.0%) break the value rules" in failure_message(result)
    assert not (tmp_path / "home" / "lake" / "raw").exists()


def test_a_missing_month_names_both_places_looked(tmp_path: Path, trips_dir: Path) -> None:
    result = materialize_raw(tmp_path / "home", trips_dir, month_service_key("2022-05", "green"))
    assert not result.success
    message = failure_message(result)
    assert "no TLC file for green 2022-05" in message
    assert str(trips_dir / "green" / "green_tripdata_2022-05.parquet") in message


def test_taxi_zones_maps_264_and_265_to_unknown(tmp_path: Path) -> None:
    resources = build_resources({"TAXI_HOME": str(tmp_path), "TAXI_TRIPS_DIR": str(TLC_DIR)})
    assert dg.materialize([taxi_zones], resources=resources).success
    zones = pd.read_parquet(tmp_path / "lake" / "zones" / "taxi_zones.parquet").set_index("LocationID")
    assert len(zones) == 265
    assert zones.loc[[264, 265], "Borough"].tolist() == ["Unknown", "Unknown"]
    assert zones.loc[1, "Borough"] == "EWR"
    assert zones.loc[265, "Zone"] == "Outside of NYC"


@pytest.mark.parametrize("layout", ["top", "service_folder"])
def test_local_source_accepts_both_layouts(tmp_path: Path, trips_dir: Path, layout: str) -> None:
    folder = trips_dir if layout == "top" else trips_dir / "green"
    folder.mkdir(exist_ok=True)
    write_trip_file(folder, "green", "2022-01", rows=50)
    result = materialize_raw(tmp_path / "home", trips_dir)
    assert result.success
    assert metadata(result)["rows_in"] == 50
