"""Assets fail clearly: a data error becomes a Failure with its message, a lake Spark cannot open names the fix."""

import dagster as dg
import pytest

from taxi_assets.assets.common import HADOOP_AWS, failing_clearly
from taxi_assets.errors import NotTripDataError


def test_a_data_error_fails_the_run_with_its_own_message() -> None:
    with pytest.raises(dg.Failure) as failure, failing_clearly():
        raise NotTripDataError("trips.csv", "no pickup time column")
    assert failure.value.description == "trips.csv is not TLC trip data: no pickup time column"
    assert failure.value.metadata["error"].value == "NotTripDataError"


def test_a_lake_without_its_hadoop_filesystem_names_the_connector_to_add() -> None:
    message = "java.lang.ClassNotFoundException: Class org.apache.hadoop.fs.s3a.S3AFileSystem not found"
    with pytest.raises(dg.Failure) as failure, failing_clearly():
        raise RuntimeError(message)
    assert "Class org.apache.hadoop.fs.s3a.S3AFileSystem not found" in str(failure.value.description)
    assert f"spark.jars.packages={HADOOP_AWS}" in str(failure.value.description)
    assert failure.value.metadata["error"].value == "SparkFilesystemMissing"


def test_any_other_error_is_left_as_it_is() -> None:
    with pytest.raises(KeyError, match="trip_distance"), failing_clearly():
        raise KeyError("trip_distance")
