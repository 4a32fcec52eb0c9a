"""One table of rules: the pandera schema and the API's validator give the same verdict on every trip."""

from datetime import date

import numpy as np
import pandas as pd
import pandera.pandas as pa_schema
import pytest
from pyspark.sql import SparkSession

from taxi_assets.assets.ingestion import read_zone_lookup
from taxi_assets.features.columns import FEATURES, INTEGER_FEATURES, PICKUP_DATETIME, TARGET, TRIP_ID
from taxi_assets.features.schema import feature_schema
from taxi_assets.features.spark import OUTLIER_RULE, label_outliers, with_features
from taxi_assets.features.trip_rules import (
    DEFAULT_BOUNDS,
    bounds_from,
    bounds_record,
    trip_rules,
    widest,
)
from taxi_assets.ingestion.raw_schema import read_trip_file
from taxi_assets.ingestion.raw_validation import validate_raw_trips
from taxi_assets.model.profile import ReferenceProfile
from taxi_assets_tests.support import TLC_DIR
from taxi_serving.validation import TripValidator

ROWS = 6_000


def near_the_edges(rng: np.random.Generator, low: float, high: float, whole: bool) -> np.ndarray:
    """Values inside, on and just outside ``[low, high]``: where two implementations of a rule would differ."""
    span = high - low
    step = 1.0 if whole else span * 1e-6
    pool = np.concatenate(
        [
            rng.uniform(low, high, ROWS),
            np.full(ROWS // 16, low),
            np.full(ROWS // 16, high),
            np.full(ROWS // 64, low - step),
            np.full(ROWS // 64, high + step),
        ]
    )
    values = rng.choice(pool, ROWS)
    return np.round(values) if whole else values


def random_trips(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rules = trip_rules(DEFAULT_BOUNDS)
    frame = pd.DataFrame({TRIP_ID: [f"t{i}" for i in range(ROWS)]})
    frame[PICKUP_DATETIME] = pd.Timestamp("2025-02-03").as_unit("us")
    for name in (*FEATURES, TARGET):
        rule = rules[name]
        if rule.allowed:
            wrong = ["Atlantis"] if rule.kind is str else [7, -1]
            frame[name] = rng.choice(list(rule.allowed) + wrong, ROWS)
        else:
            low, high = rule.span()
            frame[name] = near_the_edges(rng, low, high, whole=rule.kind is int)
    # the derived flags: mostly as they follow from day and hour, sometimes contradicting them
    day, hour = frame["pickup_day_of_week"], frame["pickup_hour"]
    weekend = day.isin([5, 6])
    rush = ~weekend & hour.isin([7, 8, 9, 16, 17, 18, 19])
    flip = rng.random(ROWS) < 0.05
    frame["is_weekend"] = np.where(flip, 1 - weekend, weekend).astype(int)
    frame["is_rush_hour"] = np.where(rng.random(ROWS) < 0.05, 1 - rush, rush).astype(int)
    frame[list(INTEGER_FEATURES)] = frame[list(INTEGER_FEATURES)].astype("int32")
    return frame


def pandera_failures(frame: pd.DataFrame) -> set[int]:
    try:
        feature_schema(DEFAULT_BOUNDS).validate(frame, lazy=True)
    except pa_schema.errors.SchemaErrors as exc:
        return {int(index) for index in exc.failure_cases["index"].dropna()}
    return set()


def api_failures(frame: pd.DataFrame, validator: TripValidator) -> set[int]:
    failed = set()
    for index, row in enumerate(frame.to_dict("records")):
        trip = {name: _plain(row[name]) for name in FEATURES}
        if validator.errors(trip) or validator.fare_errors(_plain(row[TARGET])):
            failed.add(index)
    return failed


def _plain(value: object) -> object:
    """A value as JSON would carry it to the API."""
    return value.item() if isinstance(value, np.generic) else value


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_pipeline_and_the_api_refuse_exactly_the_same_trips(seed: int) -> None:
    frame = random_trips(seed)
    pipeline = pandera_failures(frame)
    api = api_failures(frame, TripValidator(None))
    assert 0.2 * ROWS < len(pipeline) < 0.8 * ROWS  # both verdicts occur often enough to mean something
    assert api == pipeline, f"{len(api - pipeline)} refused by the API only, {len(pipeline - api)} by pandera only"


def test_the_api_holds_a_champion_to_the_bounds_it_was_trained_with() -> None:
    looser = bounds_from({"max_distance_miles": 150.0, "max_speed_mph": 120.0})
    profile = ReferenceProfile.from_json(_profile_json(bounds_record(looser)))
    validator = TripValidator(profile)
    assert validator.rules["trip_distance"].span() == (DEFAULT_BOUNDS.min_distance_miles, 150.0)
    assert validator.speed == (DEFAULT_BOUNDS.min_speed_mph, 120.0)
    # a profile written before the bounds were recorded: the defaults
    older = ReferenceProfile.from_json(_profile_json(None))
    assert older.outlier_bounds() == DEFAULT_BOUNDS


def test_a_training_set_over_months_kept_by_different_bounds_accepts_what_any_of_them_accepted() -> None:
    one = bounds_from({"max_distance_miles": 50.0, "min_fare_usd": 2.0})
    other = bounds_from({"max_distance_miles": 80.0, "min_fare_usd": 3.0})
    both = widest([one, other])
    assert (both.max_distance_miles, both.min_fare_usd) == (80.0, 2.0)
    assert widest([]) == DEFAULT_BOUNDS
    assert bounds_from(bounds_record(one)) == one
    assert isinstance(bounds_from(bounds_record(one)).max_passengers, int)


def _profile_json(bounds: dict[str, float] | None) -> str:
    import json

    numeric = {"edges": [1.0], "shares": [0.5, 0.5], "minimum": 0.0, "maximum": 2.0, "robust_low": 0.0,
               "robust_high": 2.0, "mean": 1.0, "std": 0.5}  # fmt: skip
    data = {
        "service": "green", "months": ["2022-01"], "rows": 10, "bins": 2, "seed": 1, "training_set_hash": "x",
        "numeric": {}, "categorical": {}, "target": numeric, "discrete": {},
    }  # fmt: skip
    if bounds is not None:
        data["bounds"] = bounds
    return json.dumps(data)


def test_on_every_trip_of_the_shared_tlc_months_the_pipeline_and_the_api_agree(spark: SparkSession) -> None:
    """Spark's outlier rules (what training keeps) against the API's validator (what it serves and takes fares for)."""
    zones = spark.createDataFrame(read_zone_lookup(TLC_DIR / "taxi_zone_lookup.csv"))
    validator = TripValidator(None)
    checked = kept = 0
    for path in sorted(TLC_DIR.rglob("*_tripdata_*.parquet")):
        service, month = path.name.split("_")[0], path.stem.rsplit("_", 1)[1]
        table = read_trip_file(path)
        start = date.fromisoformat(f"{month}-01")
        raw = validate_raw_trips(table, path.name, start, 1, max_invalid_share=1.0).valid.to_pandas()
        features = with_features(spark.createDataFrame(raw), zones, service, month)
        labelled = label_outliers(features, DEFAULT_BOUNDS).toPandas()
        pipeline = labelled[OUTLIER_RULE].isna().to_numpy()
        api = ~np.isin(np.arange(len(labelled)), sorted(api_failures(labelled, validator)))
        disagree = labelled.loc[pipeline != api, [*FEATURES, TARGET, OUTLIER_RULE]]
        assert disagree.empty, f"{path.name}: {len(disagree)} verdicts differ, e.g.\n{disagree.head(5).T}"
        checked, kept = checked + len(labelled), kept + int(pipeline.sum())
    assert checked == 357_148  # every row of the seven months that passed raw validation
    assert 0.5 * checked < kept < checked  # both verdicts are common
