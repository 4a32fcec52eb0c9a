from datetime import date

import pandas as pd
import pyarrow as pa
import pytest

from taxi_assets.errors import NotTripDataError, TooManyInvalidRowsError
from taxi_assets.ingestion.raw_schema import SOURCE_ROW, normalize_trip_table
from taxi_assets.ingestion.raw_validation import QUARANTINE_RULES, validate_raw_trips
from taxi_assets_tests.support import real_trip_table

JANUARY = date(2022, 1, 1)


def clean_january(rows: int) -> pa.Table:
    """Real green 2022-01 rows that break no rule (negative fares and the 2009 pickup removed)."""
    table = normalize_trip_table(real_trip_table("green", "2022-01"), source="green 2022-01")
    frame = table.to_pandas()
    keep = (frame["fare_amount"] >= 0) & (frame["pickup_datetime"] >= pd.Timestamp("2021-12-31"))
    return table.filter(pa.array(keep.to_numpy())).slice(0, rows)


def with_edits(table: pa.Table, edits: dict[int, dict[str, object]]) -> pa.Table:
    frame = table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    for row, values in edits.items():
        for column, value in values.items():
            frame.loc[row, column] = value
    return pa.Table.from_pandas(frame, schema=table.schema, preserve_index=False)


def test_clean_rows_pass_untouched() -> None:
    table = clean_january(500)
    result = validate_raw_trips(table, "clean", JANUARY, slack_days=1, max_invalid_share=0.1)
    assert result.valid.equals(table)
    assert result.quarantine.num_rows == 0
    assert set(result.rows_by_rule.values()) == {0}


def test_bad_rows_are_quarantined_exactly_with_their_rules() -> None:
    table = clean_january(1_000)
    pickup = table.column("pickup_datetime")[10].as_py()
    edits: dict[int, dict[str, object]] = {
        3: {"fare_amount": -7.5},
        10: {"dropoff_datetime": pickup - pd.Timedelta(minutes=5)},
        20: {"PULocationID": 0},
        21: {"DOLocationID": 266},
        30: {"pickup_datetime": pd.Timestamp("2009-01-01 00:34:01")},
        40: {"fare_amount": -1.0, "trip_distance": -2.0},
        50: {"RatecodeID": 7},
        60: {"payment_type": 9},
    }
    result = validate_raw_trips(with_edits(table, edits), "edited", JANUARY, slack_days=1, max_invalid_share=0.1)

    quarantined = dict(
        zip(
            result.quarantine.column(SOURCE_ROW).to_pylist(),
            result.quarantine.column(QUARANTINE_RULES).to_pylist(),
            strict=True,
        )
    )
    expected_rows = {table.column(SOURCE_ROW)[row].as_py() for row in edits}
    assert set(quarantined) == expected_rows
    by_position = {row: quarantined[table.column(SOURCE_ROW)[row].as_py()] for row in edits}
    assert by_position[3] == "negative_or_missing_fare"
    assert by_position[10] == "dropoff_before_pickup"
    assert by_position[20] == by_position[21] == "location_id_out_of_range"
    # the 2009 pickup is also more than a day before its dropoff
    assert "pickup_outside_month" in by_position[30].split(",")
    assert by_position[40] == "negative_or_missing_fare,negative_or_missing_distance"
    assert by_position[50] == "unknown_ratecode"
    assert by_position[60] == "unknown_payment_type"
    assert result.valid.num_rows == 1_000 - len(edits)
    assert result.rows_by_rule["location_id_out_of_range"] == 2
    assert result.rows_by_rule["negative_or_missing_fare"] == 2


def test_pickups_within_a_day_of_the_month_are_kept() -> None:
    table = clean_january(10)
    edited = with_edits(
        table,
        {
            0: {
                "pickup_datetime": pd.Timestamp("2021-12-31 12:00"),
                "dropoff_datetime": pd.Timestamp("2021-12-31 12:20"),
            },
            1: {
                "pickup_datetime": pd.Timestamp("2022-02-01 12:00"),
                "dropoff_datetime": pd.Timestamp("2022-02-01 12:20"),
            },
            2: {
                "pickup_datetime": pd.Timestamp("2022-02-02 00:00"),
                "dropoff_datetime": pd.Timestamp("2022-02-02 00:20"),
            },
        },
    )
    result = validate_raw_trips(edited, "edges", JANUARY, slack_days=1, max_invalid_share=0.5)
    assert result.quarantine.column(SOURCE_ROW).to_pylist() == [table.column(SOURCE_ROW)[2].as_py()]


def test_too_many_invalid_rows_fail_with_the_counts() -> None:
    table = clean_january(100)
    edited = with_edits(table, {row: {"fare_amount": -1.0} for row in range(11)})
    with pytest.raises(TooManyInvalidRowsError, match=r"11 of 100 rows \(11.0%\).*negative_or_missing_fare: 11"):
        validate_raw_trips(edited, "mostly-bad", JANUARY, slack_days=1, max_invalid_share=0.10)


def test_a_wrong_dtype_rejects_the_whole_file() -> None:
    table = clean_january(20)
    broken = table.set_column(
        table.schema.get_field_index("fare_amount"), "fare_amount", pa.array(["x"] * 20, type=pa.string())
    )
    with pytest.raises(NotTripDataError, match="fare_amount"):
        validate_raw_trips(broken, "strings-for-fares", JANUARY, slack_days=1, max_invalid_share=0.1)


def test_the_real_january_quarantine_matches_the_published_defects() -> None:
    table = normalize_trip_table(real_trip_table("green", "2022-01"), source="green 2022-01")
    result = validate_raw_trips(table, "green 2022-01", JANUARY, slack_days=1, max_invalid_share=0.1)
    frame = table.to_pandas()
    assert result.rows_by_rule["negative_or_missing_fare"] == int((frame["fare_amount"] < 0).sum())
    assert result.rows_by_rule["pickup_outside_month"] == int(
        (frame["pickup_datetime"] < pd.Timestamp("2021-12-31")).sum()
    )
    assert result.valid.num_rows + result.quarantine.num_rows == len(frame)
