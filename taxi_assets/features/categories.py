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


def factorize_keys(values: np.ndarray | pd.Series, missing: bool = True) -> tuple[np.ndarray, list[str]]:
    """``(codes, keys)``: for each row the position of its category key in ``keys``, each key listed once.

    Missing values keep their own key (``None`` is "None", NaN is "nan"), as ``category_key`` gives them; with
    ``missing=False`` they get code -1 and no key instead (as a count that leaves them out wants).
    """
    array = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    small = _small_whole_numbers(array)
    if small is not None:  # a numeric category column (payment type, rate code, a flag): coded by position
        return small
    codes, uniques = pd.factorize(array)
    positions: dict[str, int] = {}
    # distinct values with the same key (an int 1 and a string "1") share one position
    remap = np.array([positions.setdefault(category_key(value), len(positions)) for value in uniques.tolist()] + [-1])
    codes = remap[codes]  # a missing value's code -1 picks the trailing -1
    absent = np.flatnonzero(codes == -1) if missing else ()
    if len(absent):
        codes[absent] = [positions.setdefault(category_key(value), len(positions)) for value in array[absent].tolist()]
    return codes.astype(np.intp, copy=False), list(positions)


# whole numbers from 0 below this are coded by position (np.bincount) rather than by hash
CODE_BY_POSITION_BELOW = 4_096


def _small_whole_numbers(array: np.ndarray) -> tuple[np.ndarray, list[str]] | None:
    """``factorize_keys`` of a numeric column of whole numbers in [0, ``CODE_BY_POSITION_BELOW``), else None.

    Its keys come in ascending order of value (a hash count lists them in order of first appearance).
    """
    if array.dtype.kind not in "iuf" or not array.size:
        return None
    low, high = np.min(array), np.max(array)
    if not (low >= 0 and high < CODE_BY_POSITION_BELOW):  # NaN fails both
        return None
    whole = array.astype(np.intp)
    if array.dtype.kind == "f" and not np.array_equal(whole, array):
        return None
    present = np.flatnonzero(np.bincount(whole))
    position = np.full(int(high) + 1, -1, dtype=np.intp)
    position[present] = np.arange(len(present))
    # whole numbers have distinct keys ("1" for 1 and 1.0 alike)
    return position[whole], [category_key(value) for value in array.dtype.type(present).tolist()]


def without_missing(codes: np.ndarray) -> bool:
    """Whether no row has code -1 (then the codes count as they are, with no shift past -1)."""
    return not codes.size or bool(codes.min() >= 0)


def counts_of_codes(codes: np.ndarray, keys: list[str]) -> dict[str, int]:
    """Rows per key, from ``factorize_keys``' codes (code -1, a missing value, is not counted)."""
    counts = (
        np.bincount(codes, minlength=len(keys))
        if without_missing(codes)
        else (np.bincount(codes + 1, minlength=len(keys) + 1)[1:])
    )
    return dict(zip(keys, (int(count) for count in counts), strict=True))


def category_keys(values: np.ndarray | pd.Series) -> np.ndarray:
    """The category key of each value, as an object array of strings."""
    codes, keys = factorize_keys(values)
    return np.asarray(keys, dtype=object)[codes] if len(codes) else np.empty(0, dtype=object)


def category_counts(values: np.ndarray | pd.Series) -> dict[str, int]:
    """Rows per category key."""
    return counts_of_codes(*factorize_keys(values))
