"""Category keys per distinct value agree with ``category_key`` row by row."""

import numpy as np
import pandas as pd
import pytest

from taxi_assets.features.categories import category_counts, category_keys, counts_of_codes, factorize_keys
from taxi_assets.features.columns import category_key

COLUMNS = {
    "whole floats": np.array([1.0, 2.0, 1.0, 5.0, 2.0]),
    "fractional floats": np.array([1.5, 1.0, 1.5, -0.0]),
    "ints": np.array([3, 1, 3, 3, 265], dtype=np.int64),
    "strings": np.array(["Manhattan", "Queens", "Manhattan", "Unknown"], dtype=object),
    "int and string of the same key": np.array([1, "1", 2, "2", 1], dtype=object),
    "missing values keep their own key": np.array([1.0, None, np.nan, 1.0, None], dtype=object),
    "floats with NaN": np.array([np.nan, 4.0, np.nan]),
    "bools": np.array([True, False, True]),
    "empty": np.array([], dtype=np.float64),
}


@pytest.mark.parametrize("name", COLUMNS)
def test_keys_per_distinct_value_equal_the_key_of_each_row(name: str) -> None:
    values = COLUMNS[name]
    expected = [category_key(value) for value in values.tolist()]
    assert category_keys(values).tolist() == expected
    assert category_keys(pd.Series(values)).tolist() == expected
    codes, keys = factorize_keys(values)
    assert len(keys) == len(set(keys))  # each key once
    assert [keys[code] for code in codes] == expected
    assert category_counts(values) == {key: expected.count(key) for key in dict.fromkeys(expected)}


def test_a_million_rows_take_one_key_computation_per_distinct_value(monkeypatch: pytest.MonkeyPatch) -> None:
    import taxi_assets.features.categories as categories

    calls: list[object] = []

    def counting(value: object) -> str:
        calls.append(value)
        return category_key(value)

    monkeypatch.setattr(categories, "category_key", counting)
    values = np.random.default_rng(7).integers(1, 7, size=1_000_000).astype(np.float64)
    counts = categories.category_counts(values)
    assert sum(counts.values()) == 1_000_000
    assert set(counts) == {"1", "2", "3", "4", "5", "6"}
    assert len(calls) == 6


def test_whole_numbers_coded_by_position_agree_with_the_hash_path() -> None:
    rng = np.random.default_rng(3)
    by_position = rng.integers(0, 4_096, size=50_000).astype(np.float64)  # payment types, rate codes, flags
    by_hash = np.append(by_position, 4_096.0)  # one value past the positions: hashed instead
    for values in (by_position, by_hash, by_position.astype(np.int32)):
        codes, keys = factorize_keys(values)
        assert [keys[code] for code in codes[:2_000]] == [category_key(value) for value in values[:2_000].tolist()]
        counted = pd.Series(values).value_counts()
        assert category_counts(values) == {category_key(value): int(n) for value, n in counted.items()}


def test_without_missing_values_a_missing_value_has_code_minus_one_and_no_key() -> None:
    codes, keys = factorize_keys(np.array([2.0, np.nan, 2.0, 7.0]), missing=False)
    assert (codes.tolist(), keys) == ([0, -1, 0, 1], ["2", "7"])
    codes, keys = factorize_keys(np.array(["Queens", None, "Bronx"], dtype=object), missing=False)
    assert (codes.tolist(), keys) == ([0, -1, 1], ["Queens", "Bronx"])
    assert counts_of_codes(codes, keys) == {"Queens": 1, "Bronx": 1}
