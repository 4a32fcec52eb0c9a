"""The domain errors say which file and which rule: the message a failed run shows."""

import pytest

from taxi_assets.errors import NotTripDataError, TaxiDataError, TooManyInvalidRowsError


def test_not_trip_data_names_the_file_and_the_reason() -> None:
    error = NotTripDataError("/data/green_tripdata_2022-01.parquet", "no pickup time column")
    assert str(error) == "/data/green_tripdata_2022-01.parquet is not TLC trip data: no pickup time column"
    assert isinstance(error, TaxiDataError)


def test_too_many_invalid_rows_names_the_share_the_limit_and_each_broken_rule() -> None:
    error = TooManyInvalidRowsError("trips.parquet", 30, 200, 0.1, {"negative_fare": 20, "zero_distance": 10, "ok": 0})
    assert str(error) == (
        "trips.parquet: 30 of 200 rows (15.0%) break the value rules, more than the allowed 10.0% "
        "(max_invalid_share); rows per rule: negative_fare: 20, zero_distance: 10"
    )


def test_an_empty_file_counts_as_wholly_invalid() -> None:
    with pytest.raises(TooManyInvalidRowsError, match=r"0 of 0 rows \(100.0%\)"):
        raise TooManyInvalidRowsError("empty.parquet", 0, 0, 0.1, {})
