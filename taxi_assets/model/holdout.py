"""A model version's errors on its own holdout: what accuracy on live labels is calibrated against.

Each version carries ``holdout_errors.parquet``: per holdout trip the error (prediction - actual) and the segment
it belongs to (pickup borough, payment type), as category keys so a window and the holdout name a segment alike.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from taxi_assets.features.categories import category_keys

ERROR: Final = "error"
# The segments accuracy is also judged on, and the file of holdout errors each model version carries.
SEGMENTS: Final = ("pickup_borough", "payment_type")
HOLDOUT_ERRORS_FILE: Final = "holdout_errors.parquet"


def holdout_errors(rows: pd.DataFrame, actual: np.ndarray, predicted: np.ndarray) -> pd.DataFrame:
    """The errors (prediction - actual) of a model on its holdout, with the segment columns of ``rows``."""
    frame = pd.DataFrame({ERROR: np.asarray(predicted, dtype=np.float64) - np.asarray(actual, dtype=np.float64)})
    for segment in SEGMENTS:
        frame[segment] = segment_keys(rows[segment].to_numpy())
    return frame


def segment_keys(values: np.ndarray) -> np.ndarray:
    """Segment values as category keys (1.0 and 1 are payment type "1"), so window and holdout agree."""
    return category_keys(values)
