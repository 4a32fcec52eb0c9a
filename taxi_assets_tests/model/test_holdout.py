"""A model version's holdout errors: the error per trip and its segments, keyed as the prediction log keys them."""

from pathlib import Path

import numpy as np
import pandas as pd

from taxi_assets.model.holdout import ERROR, HOLDOUT_ERRORS_FILE, SEGMENTS, holdout_errors, segment_keys


def test_holdout_errors_key_segments_like_the_prediction_log() -> None:
    rows = pd.DataFrame({"pickup_borough": ["Queens", "Bronx"], "payment_type": [1, 2.0]})
    frame = holdout_errors(rows, np.array([10.0, 20.0]), np.array([12.5, 19.0]))
    assert frame[ERROR].tolist() == [2.5, -1.0]
    assert frame["payment_type"].tolist() == ["1", "2"]


def test_segment_keys_read_numbers_and_names_alike() -> None:
    keys = segment_keys(np.array([1, 1.0, 2.0, "Queens", "1"], dtype=object))
    assert keys.tolist() == ["1", "1", "2", "Queens", "1"]


def test_the_frame_has_the_error_and_every_segment_and_round_trips_through_parquet(tmp_path: Path) -> None:
    rows = pd.DataFrame({"pickup_borough": ["Queens"] * 3, "payment_type": [1, 1, 4], "extra": [0, 0, 0]})
    frame = holdout_errors(rows, np.array([5.0, 7.0, 9.0]), np.array([5.0, 8.0, 6.0]))
    assert list(frame.columns) == [ERROR, *SEGMENTS]
    frame.to_parquet(tmp_path / HOLDOUT_ERRORS_FILE)
    back = pd.read_parquet(tmp_path / HOLDOUT_ERRORS_FILE)
    assert back[ERROR].tolist() == [0.0, 1.0, -3.0]
    assert back["payment_type"].tolist() == ["1", "1", "4"]
