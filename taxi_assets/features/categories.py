"""Category keys of whole columns, computed once per distinct value rather than once per row.

``columns.category_key`` names a value as Spark's StringIndexer saw it (1.0 and 1 are both "1"). A window of a
million rows holds a handful of distinct payment types, so the key is worked out for each distinct value and the
rows take theirs by code (``pandas.factorize``, a hash table in C).

Distinct values are told apart by Python equality, as a dictionary would: 1, 1.0 and True are one value, so a
column that mixed ``True`` with ``1`` would count both under the key of the first. The platform's columns hold one
type each (numbers or strings), where this never arises.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from taxi_assets.features.columns import category_key


def factorize_keys(values: np.ndarray | pd.Series) -> tuple[np.ndarray, list[str]]:
    """``(codes, keys)``: for each row the position of its category key in ``keys``, each key listed once.

    Missing values keep their own key (``None`` is "None", NaN is "nan"), as ``category_key`` gives them.
    """
    array = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    codes, uniques = pd.factorize(array)
    positions: dict[str, int] = {}
    # distinct values with the same key (an int 1 and a string "1") share one position
    remap = np.array([positions.setdefault(category_key(value), len(positions)) for value in uniques.tolist()] + [-1])
    codes = remap[codes]  # a missing value's code -1 picks the trailing -1
    missing = np.flatnonzero(codes == -1)
    if len(missing):
        missing_keys = [positions.setdefault(category_key(value), len(positions)) for value in array[missing].tolist()]
        codes[missing] = missing_keys
    return codes.astype(np.intp, copy=False), list(positions)


def category_keys(values: np.ndarray | pd.Series) -> np.ndarray:
    """The category key of each value, as an object array of strings."""
    codes, keys = factorize_keys(values)
    return np.asarray(keys, dtype=object)[codes] if len(codes) else np.empty(0, dtype=object)


def category_counts(values: np.ndarray | pd.Series) -> dict[str, int]:
    """Rows per category key."""
    codes, keys = factorize_keys(values)
    counts = np.bincount(codes, minlength=len(keys)) if len(codes) else np.zeros(len(keys), dtype=np.int64)
    return dict(zip(keys, (int(count) for count in counts), strict=True))
