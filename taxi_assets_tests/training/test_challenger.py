from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from taxi_assets.model.checks import PARITY_CHECK
from taxi_assets.model.evaluation import regression_metrics
from taxi_assets.model.probes import BehaviourResult
from taxi_assets.training.challenger import Challenger, parity


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


def test_trees_for_explanations_that_price_a_row_apart_from_the_onnx_file_fail_the_check() -> None:
    onnx = np.array([10.0, 12.5, 30.0])
    alike = parity(onnx, onnx, tolerance_usd=1e-6, explain_pred=onnx.copy())
    assert alike.passed
    assert alike.explain_max_abs_diff_usd == 0.0
    apart = parity(onnx, onnx, tolerance_usd=1e-6, explain_pred=onnx + np.array([0.0, 0.0, 1e-6]))
    assert apart.max_abs_diff_usd == 0.0  # ONNX and Spark agree: only the explanations' trees are off
    assert apart.explain_max_abs_diff_usd == pytest.approx(1e-6)
    assert not apart.passed
    not_a_number = parity(onnx, onnx, tolerance_usd=1e-6, explain_pred=np.array([np.nan, 12.5, 30.0]))
    assert not not_a_number.passed


def test_the_failed_check_says_the_explanations_trees_are_off_and_by_how_much() -> None:
    onnx = np.array([10.0, 12.5, 30.0])
    apart = parity(onnx, onnx, tolerance_usd=1e-6, explain_pred=onnx + 0.25)
    challenger = Challenger(
        metrics=regression_metrics(onnx, onnx),
        rmse_by_borough={},
        train_seconds=1.0,
        parity=apart,
        probe=BehaviourResult(largest_drop_usd=0.0, deterministic=True, predictions=[]),
        behaviour_tolerance_usd=0.5,
        test=pd.DataFrame(),
        spark_model=Path("spark"),
        serving_dir=Path("serving"),
    )
    failures = challenger.check_failures()
    assert list(failures) == [PARITY_CHECK]
    assert (
        "the trees for explanations price 3 test rows up to 0.25 USD away from the ONNX file" in failures[PARITY_CHECK]
    )
