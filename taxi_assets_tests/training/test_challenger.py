import numpy as np

from taxi_assets.training.challenger import parity


def test_an_export_that_reproduces_spark_passes_with_its_largest_gap() -> None:
    spark = np.array([10.0, 12.5, 30.0])
    result = parity(spark + np.array([0.0, 1e-7, -2e-7]), spark, tolerance_usd=1e-6)
    assert result.passed
    assert result.rows == 3
    assert abs(result.max_abs_diff_usd - 2e-7) < 1e-12
    assert result.min_prediction == 10.0


def test_a_gap_over_the_tolerance_a_negative_fare_or_a_nan_fails() -> None:
    spark = np.array([10.0, 12.5])
    assert not parity(spark + 0.01, spark, tolerance_usd=1e-6).passed
    negative = parity(np.array([-0.5, 12.5]), np.array([-0.5, 12.5]), tolerance_usd=1e-6)
    assert negative.max_abs_diff_usd == 0.0
    assert not negative.passed
    not_finite = parity(np.array([np.nan, 12.5]), spark, tolerance_usd=1e-6)
    assert not not_finite.all_finite
    assert not not_finite.passed


def test_no_test_rows_is_not_a_pass() -> None:
    result = parity(np.array([]), np.array([]), tolerance_usd=1e-6)
    assert result.rows == 0
    assert np.isnan(result.max_abs_diff_usd)
    assert not result.passed
