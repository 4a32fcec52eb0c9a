"""The reference profile: what "normal" looks like, fitted once on the training split.

Numeric features get quantile bin edges (``REFERENCE_BINS`` bins; duplicate edges of discrete features are
merged, so they may get fewer) with open outer bins, and the share of reference rows per bin. Binary and
categorical features get the share per category. The API's valid input ranges and a seeded reference sample
come from the same rows. Drift statistics compare each monitoring window against these, never refitting.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from taxi_assets.features.columns import (
    BINARY_FEATURES,
    CATEGORICAL_FEATURES,
    FEATURES,
    NUMERIC_FEATURES,
    TARGET,
    OutlierBounds,
)
from taxi_assets.features.trip_rules import DEFAULT_BOUNDS, bounds_from, bounds_record
from taxi_assets.lake_storage import LakeLocation

PROFILE_FILE = "reference_profile.json"
# Numeric features with few distinct values, compared value by value rather than on quantile bins.
DISCRETE_FEATURES = ("passenger_count", "pickup_hour", "pickup_day_of_week", "pickup_month")
SAMPLE_FILE = "reference.csv"
# Robust bounds for the API: the 0.1 % and 99.9 % quantiles.
ROBUST_QUANTILES = (0.001, 0.999)


@dataclass(frozen=True)
class NumericProfile:
    """Quantile bins of one numeric column.

    ``edges`` are the interior cut points; bin ``i`` holds values in ``(edges[i-1], edges[i]]`` with the first
    bin open to the left and the last open to the right, so ``len(shares) == len(edges) + 1``.
    """

    edges: list[float]
    shares: list[float]
    minimum: float
    maximum: float
    robust_low: float
    robust_high: float
    mean: float
    std: float


@dataclass(frozen=True)
class CategoricalProfile:
    """Share of reference rows per category (categories as strings)."""

    shares: dict[str, float]


@dataclass(frozen=True)
class ReferenceProfile:
    """Everything monitoring and serving need to know about the reference data."""

    service: str
    months: list[str]
    rows: int
    bins: int
    seed: int
    training_set_hash: str
    numeric: dict[str, NumericProfile]
    categorical: dict[str, CategoricalProfile]
    target: NumericProfile
    # discrete numeric features by value: quantile edges collapse on them and would hide real shifts
    discrete: dict[str, CategoricalProfile] = field(default_factory=dict)
    # the outlier bounds the training rows were kept by (``features.trip_rules``): the API accepts the same trips
    bounds: dict[str, float] = field(default_factory=lambda: bounds_record(DEFAULT_BOUNDS))

    def outlier_bounds(self) -> OutlierBounds:
        """The bounds as the trip rules take them (the defaults for a profile written before they were recorded)."""
        return bounds_from(self.bounds)

    def to_json(self) -> str:
        """Serialise to JSON (the format written beside reference.csv)."""
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ReferenceProfile:
        """Parse a profile written by ``to_json``."""
        data = json.loads(text)
        data["numeric"] = {name: NumericProfile(**value) for name, value in data["numeric"].items()}
        data["categorical"] = {name: CategoricalProfile(**value) for name, value in data["categorical"].items()}
        data["target"] = NumericProfile(**data["target"])
        data["discrete"] = {name: CategoricalProfile(**value) for name, value in data.get("discrete", {}).items()}
        return cls(**data)


def quantile_edges(values: np.ndarray, bins: int) -> np.ndarray:
    """Interior cut points at the 1/bins .. (bins-1)/bins quantiles, duplicates merged.

    The quantiles are observed values (inverted CDF, no interpolation), so a discrete feature gets its own
    values as edges and merged duplicates leave one bin per distinct value range.
    """
    if values.size == 0:
        raise ValueError("cannot fit quantile bins on an empty column")
    levels = np.arange(1, bins) / bins
    return np.unique(np.quantile(values.astype(np.float64), levels, method="inverted_cdf"))


def bin_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of ``values`` per bin of ``edges`` (right-closed bins, open outer bins)."""
    counts = np.bincount(np.digitize(values, edges, right=True), minlength=edges.size + 1)
    return counts / max(values.size, 1)


def numeric_profile(values: np.ndarray, bins: int) -> NumericProfile:
    """Bins, shares and summary statistics of one numeric column."""
    values = values.astype(np.float64)
    edges = quantile_edges(values, bins)
    low, high = np.quantile(values, ROBUST_QUANTILES)
    return NumericProfile(
        edges=edges.tolist(),
        shares=bin_shares(values, edges).tolist(),
        minimum=float(values.min()),
        maximum=float(values.max()),
        robust_low=float(low),
        robust_high=float(high),
        mean=float(values.mean()),
        std=float(values.std()),
    )


def categorical_profile(values: pd.Series) -> CategoricalProfile:
    """Share per category, categories sorted for a stable file."""
    shares = values.astype(str).value_counts(normalize=True).sort_index()
    return CategoricalProfile(shares={str(key): float(share) for key, share in shares.items()})


def fit_reference_profile(
    train: pd.DataFrame,
    service: str,
    months: list[str],
    bins: int,
    seed: int,
    training_set_hash: str,
    bounds: OutlierBounds = DEFAULT_BOUNDS,
) -> ReferenceProfile:
    """Fit the profile on training rows (the train split only)."""
    if train.empty:
        raise ValueError(f"no training rows to fit the {service} reference profile on")
    return ReferenceProfile(
        service=service,
        months=list(months),
        rows=len(train),
        bins=bins,
        seed=seed,
        training_set_hash=training_set_hash,
        numeric={name: numeric_profile(train[name].to_numpy(), bins) for name in NUMERIC_FEATURES},
        categorical={name: categorical_profile(train[name]) for name in BINARY_FEATURES + CATEGORICAL_FEATURES},
        target=numeric_profile(train[TARGET].to_numpy(), bins),
        discrete={name: categorical_profile(train[name]) for name in DISCRETE_FEATURES},
        bounds=bounds_record(bounds),
    )


def reference_sample(train: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """A seeded sample of training rows (features and target), in their original order."""
    rng = np.random.default_rng(seed)
    size = min(rows, len(train))
    picked = np.sort(rng.choice(len(train), size=size, replace=False))
    return train.iloc[picked][[*FEATURES, TARGET]].reset_index(drop=True)


def write_profile(
    profile: ReferenceProfile, sample: pd.DataFrame, folder: LakeLocation
) -> tuple[LakeLocation, LakeLocation]:
    """Write ``reference.csv`` then ``reference_profile.json``, each atomically (temporary name, then moved)."""
    profile_path, sample_path = folder / PROFILE_FILE, folder / SAMPLE_FILE
    sample_path.write_text(sample.to_csv(index=False))
    profile_path.write_text(profile.to_json())
    return profile_path, sample_path
