"""Regression metrics for fare models, overall and per segment, on plain arrays (any model, any backend)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Final

import numpy as np
import pandas as pd

# MAPE is undefined near zero fares; it is computed on fares of at least this much.
MAPE_MIN_FARE_USD: Final = 1.0
# the two-sided 95 % quantile of the normal distribution, for the intervals reported beside a metric
Z_95: Final = 1.959964


@dataclass(frozen=True)
class RegressionMetrics:
    """RMSE (primary), MAE, R2, MAPE (fares >= $1), mean error (bias) and the rows they were computed on."""

    rmse: float
    mae: float
    r2: float
    mape: float
    bias: float
    rows: int

    def as_dict(self) -> dict[str, float]:
        """The metrics as logged to MLflow and recorded with decisions."""
        return {key: float(value) for key, value in asdict(self).items()}


def regression_metrics(actual: np.ndarray, predicted: np.ndarray) -> RegressionMetrics:
    """Metrics of ``predicted`` against ``actual``; NaN everywhere for an empty input.

    Raises:
        ValueError: the arrays differ in length.
    """
    actual = np.asarray(actual, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    if actual.shape != predicted.shape:
        raise ValueError(f"{actual.shape[0]} actual values but {predicted.shape[0]} predictions")
    if actual.size == 0:
        nan = float("nan")
        return RegressionMetrics(rmse=nan, mae=nan, r2=nan, mape=nan, bias=nan, rows=0)
    error = predicted - actual
    total = float(np.sum((actual - actual.mean()) ** 2))
    positive = actual >= MAPE_MIN_FARE_USD
    mape = float(np.mean(np.abs(error[positive]) / actual[positive])) if positive.any() else float("nan")
    return RegressionMetrics(
        rmse=float(np.sqrt(np.mean(error**2))),
        mae=float(np.mean(np.abs(error))),
        r2=1.0 - float(np.sum(error**2)) / total if total > 0 else float("nan"),
        mape=mape,
        bias=float(np.mean(error)),
        rows=int(actual.size),
    )


def rmse_by_segment(actual: np.ndarray, predicted: np.ndarray, segment: pd.Series) -> dict[str, float]:
    """RMSE per value of ``segment`` (e.g. pickup borough), segments sorted by name."""
    frame = pd.DataFrame({"error": np.asarray(predicted) - np.asarray(actual), "segment": segment.to_numpy()})
    squared = frame.assign(error=frame["error"] ** 2).groupby("segment")["error"].mean()
    return {str(name): float(np.sqrt(value)) for name, value in squared.sort_index().items()}
