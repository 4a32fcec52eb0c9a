import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from taxi_assets.model.evaluation import regression_metrics, rmse_by_segment


def test_metrics_match_scikit_learn_and_a_hand_computation() -> None:
    rng = np.random.default_rng(3)
    actual = rng.gamma(2.0, 7.0, 500) + 0.5
    predicted = actual + rng.normal(0.3, 2.0, 500)
    metrics = regression_metrics(actual, predicted)
    assert metrics.rmse == pytest.approx(np.sqrt(mean_squared_error(actual, predicted)))
    assert metrics.mae == pytest.approx(mean_absolute_error(actual, predicted))
    assert metrics.r2 == pytest.approx(r2_score(actual, predicted))
    assert metrics.bias == pytest.approx(np.mean(predicted - actual))
    kept = actual >= 1.0
    assert metrics.mape == pytest.approx(np.mean(np.abs(predicted[kept] - actual[kept]) / actual[kept]))
    assert metrics.rows == 500


def test_mape_ignores_fares_below_one_dollar() -> None:
    metrics = regression_metrics(np.array([0.5, 10.0]), np.array([5.0, 11.0]))
    assert metrics.mape == pytest.approx(0.1)


def test_an_empty_holdout_gives_nan_not_zero() -> None:
    metrics = regression_metrics(np.array([]), np.array([]))
    assert np.isnan(metrics.rmse)
    assert metrics.rows == 0


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="2 actual values but 1 predictions"):
        regression_metrics(np.array([1.0, 2.0]), np.array([1.0]))


def test_rmse_per_segment() -> None:
    segment = pd.Series(["Queens", "Manhattan", "Queens", "Manhattan"])
    result = rmse_by_segment(np.array([10.0, 10.0, 10.0, 10.0]), np.array([13.0, 11.0, 7.0, 9.0]), segment)
    assert result == {"Manhattan": pytest.approx(1.0), "Queens": pytest.approx(3.0)}
