"""Real champions for the tests that serve or monitor one.

Two small GBTs trained on green 2022-01, exported and registered in MLflow the way ``challenger_model`` does
(the ``trained`` fixture in ``conftest.py``).
"""

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pandas as pd
from pyspark.ml import PipelineModel
from pyspark.sql import SparkSession

from taxi_assets.features.columns import (
    CATEGORICAL_FEATURES,
    FEATURE_TABLE_COLUMNS,
    FEATURES,
    PICKUP_DATETIME,
    TARGET,
    TRIP_ID,
    category_key,
    time_features,
)
from taxi_assets.lake_storage import lake_root
from taxi_assets.model.explain import EXPLAIN_FILE
from taxi_assets.model.fare_model import FareModel
from taxi_assets.model.holdout import HOLDOUT_ERRORS_FILE, holdout_errors
from taxi_assets.model.profile import PROFILE_FILE, fit_reference_profile, numeric_profile, write_profile
from taxi_assets.model.pyfunc import PREDICTION_PROFILE_FILE, serving_example
from taxi_assets.model.spec import FARE_FLOOR_USD, FeatureSpec
from taxi_assets.model.versions import CHAMPION, ModelRegistry, experiment_name, model_name
from taxi_assets.training.export import SparkTree, build_onnx, explainer, export_pipeline
from taxi_assets.training.pipeline import GbtParams, fit_pipeline
from taxi_assets_tests.support import featurize_month


@dataclass
class Trained:
    """Two small real models (different seeds) with their Spark pipelines, saved exports and holdout rows."""

    folder: Path
    spark_dirs: dict[str, Path]
    serving_dirs: dict[str, Path]
    holdout: pd.DataFrame
    profile_path: Path


def train_champions(spark: SparkSession, folder: Path) -> Trained:
    """Two small GBTs on real green 2022-01 (seeds 1 and 2), exported with what ``challenger_model`` logs."""
    features = spark.read.parquet(str(featurize_month(spark, "2022-01", folder)))
    train, test = features.randomSplit([0.8, 0.2], seed=3)
    train_rows = train.toPandas()
    profile = fit_reference_profile(train_rows, "green", ["2022-01"], 20, 7, "test")
    profile_path = folder / "profile" / PROFILE_FILE
    write_profile(profile, train_rows.head(100), lake_root(str(profile_path.parent)))
    spark_dirs, serving_dirs = {}, {}
    test_rows = test.toPandas()
    for name, seed in (("a", 1), ("b", 2)):
        model = fit_pipeline(train, GbtParams(8, 4, 0.3, 0.8, 32, 5, seed))
        spark_dirs[name] = folder / f"spark-{name}"
        model.write().overwrite().save(str(spark_dirs[name]))
        serving_dirs[name] = folder / f"serving-{name}"
        export_pipeline(spark_dirs[name], serving_dirs[name])
        # what challenger_model logs with every version: its errors on its holdout, for calibrated accuracy
        predicted = FareModel.load(serving_dirs[name]).predict(test_rows)
        errors = holdout_errors(test_rows, test_rows[TARGET].to_numpy(), predicted)
        errors.to_parquet(serving_dirs[name] / HOLDOUT_ERRORS_FILE)
        profile_of_predictions = asdict(numeric_profile(predicted, 20))
        (serving_dirs[name] / PREDICTION_PROFILE_FILE).write_text(json.dumps(profile_of_predictions))
    # a random sample: the first rows of a month are its first days, a skewed mix of weekdays and trips
    holdout = test_rows.sample(n=500, random_state=0).reset_index(drop=True)
    return Trained(folder, spark_dirs, serving_dirs, holdout, profile_path)


def spark_predictions(spark: SparkSession, trained: Trained, name: str, rows: pd.DataFrame) -> list[float]:
    scored = PipelineModel.load(str(trained.spark_dirs[name])).transform(spark.createDataFrame(rows))
    # the pipeline's prediction under the fare floor, as training measures it and the export computes it
    return [max(float(row["prediction"]), FARE_FLOOR_USD) for row in scored.select("prediction").collect()]


def register(
    registry: ModelRegistry, trained: Trained, name: str, alias: str | None = CHAMPION, service: str = "green"
) -> str:
    """Log and register one of the trained models as a version of ``service``'s model; point ``alias`` at it."""
    with registry.run(experiment_name(service), f"serving-test-{name}", tags={}) as run_id:
        uri = registry.log_fare_model(
            trained.serving_dirs[name], trained.spark_dirs[name], serving_example(trained.holdout), trained.profile_path
        )
    version = registry.register(uri, model_name(service), run_id, tags={})
    registry.tag_version(model_name(service), version, {"metrics": {"rmse": 3.0 + len(name)}})
    if alias:
        registry.set_alias(model_name(service), alias, version)
    return version


# the boroughs of the zone lookup, and the codes the TLC uses most
BOROUGHS = ("Bronx", "Brooklyn", "Manhattan", "Queens", "Staten Island", "EWR", "Unknown")
RATECODES = (1, 1, 1, 1, 1, 2, 5)
PAYMENT_TYPES = (1, 1, 1, 2, 2, 3)


def synthetic_trips(rows: int, seed: int) -> pd.DataFrame:
    """Feature rows of plausible green trips in January 2022, made in pandas with the API's own time rules.

    The fare is a known function of distance and duration with noise, so a model's error is known too.
    """
    rng = np.random.default_rng(seed)
    start = datetime(2022, 1, 1)
    pickups = [start + timedelta(minutes=int(m)) for m in rng.integers(0, 31 * 24 * 60, rows)]
    distance = np.round(np.clip(rng.lognormal(0.7, 0.7, rows), 0.1, 40.0), 2)
    duration = np.round(distance * rng.uniform(2.5, 5.0, rows) + rng.uniform(1.0, 5.0, rows), 2)
    times = [time_features(p, p + timedelta(minutes=float(d))) for p, d in zip(pickups, duration, strict=True)]
    frame = pd.DataFrame(times).drop(columns="trip_duration_minutes")
    frame.insert(0, "trip_distance", distance)
    frame.insert(1, "passenger_count", rng.integers(1, 5, rows))
    frame["trip_duration_minutes"] = duration
    frame["RatecodeID"] = rng.choice(RATECODES, rows)
    frame["payment_type"] = rng.choice(PAYMENT_TYPES, rows)
    frame["pickup_borough"] = rng.choice(BOROUGHS[:5], rows)
    frame["dropoff_borough"] = rng.choice(BOROUGHS[:5], rows)
    frame[TARGET] = np.round(3.0 + 2.4 * distance + 0.35 * duration + rng.normal(0, 1.0, rows), 2).clip(min=3.0)
    frame.insert(0, TRIP_ID, [f"synthetic-{seed}-{i}" for i in range(rows)])
    frame.insert(1, PICKUP_DATETIME, pd.to_datetime(pickups))
    return frame[list(FEATURE_TABLE_COLUMNS)]


def _leaf(node_id: int, value: float, cover: float) -> dict[str, Any]:
    node = {"id": node_id, "prediction": value, "leftChild": -1, "rightChild": -1, "split": {}}
    return node | {"impurityStats": [cover, 0.0, 0.0]}


def _split(node_id: int, feature: str, threshold: float, children: tuple[int, int], cover: float) -> dict[str, Any]:
    split = {"featureIndex": FEATURES.index(feature), "leftCategoriesOrThreshold": [threshold], "numCategories": -1}
    node = {"id": node_id, "prediction": 0.0, "leftChild": children[0], "rightChild": children[1], "split": split}
    return node | {"impurityStats": [cover, 0.0, 0.0]}


def tiny_ensemble(scale: float) -> list[SparkTree]:
    """Three hand-written trees in Spark's saved layout: fare steps with distance and duration.

    Each node's cover (``impurityStats[0]``, the training rows that reached it) is made up but adds up, so the
    trees can be explained as trained ones are.
    """
    by_distance = {
        0: _split(0, "trip_distance", 2.0, (1, 2), 1_000),
        1: _leaf(1, 8.0 * scale, 400),
        2: _split(2, "trip_distance", 6.0, (3, 4), 600),
        3: _leaf(3, 16.0 * scale, 350),
        4: _leaf(4, 32.0 * scale, 250),
    }
    by_duration = {
        0: _split(0, "trip_duration_minutes", 15.0, (1, 2), 1_000),
        1: _leaf(1, -1.5, 550),
        2: _leaf(2, 2.5, 450),
    }
    by_hour = {0: _split(0, "pickup_hour", 6.5, (1, 2), 1_000), 1: _leaf(1, 0.5, 100), 2: _leaf(2, 0.0, 900)}
    return [SparkTree(1.0, by_distance), SparkTree(1.0, by_duration), SparkTree(1.0, by_hour)]


def tiny_champions(folder: Path) -> Trained:
    """Two small models of the same shape as ``train_champions``' without Spark: ONNX ensembles written by hand.

    For the API's tests of its own behaviour (validation, errors, logging, A/B, shadow, keys, outages), which
    need a champion in MLflow but not a trained one; the parity of a Spark-trained model is tested apart.
    """
    rows = synthetic_trips(3_000, seed=0)
    train_rows, test_rows = rows.iloc[:2_400], rows.iloc[2_400:].reset_index(drop=True)
    profile = fit_reference_profile(train_rows, "green", ["2022-01"], 20, 7, "synthetic")
    profile_path = folder / "profile" / PROFILE_FILE
    write_profile(profile, train_rows.head(100), lake_root(str(profile_path.parent)))
    categories = {name: sorted({category_key(v) for v in train_rows[name]}) for name in CATEGORICAL_FEATURES}
    spec = FeatureSpec(columns=list(FEATURES), categories=categories)
    spark_dirs, serving_dirs = {}, {}
    for name, scale in (("a", 1.0), ("b", 1.1)):
        spark_dirs[name] = folder / f"spark-{name}"
        spark_dirs[name].mkdir(parents=True)
        (spark_dirs[name] / "README").write_text("no Spark model: a hand-written ensemble (taxi_assets_tests)\n")
        serving_dirs[name] = folder / f"serving-{name}"
        serving_dirs[name].mkdir()
        onnx.save(build_onnx(tiny_ensemble(scale), n_features=len(FEATURES)), serving_dirs[name] / "model.onnx")
        (serving_dirs[name] / EXPLAIN_FILE).write_text(explainer(tiny_ensemble(scale), len(FEATURES)).to_json())
        (serving_dirs[name] / "feature_spec.json").write_text(spec.to_json())
        predicted = FareModel.load(serving_dirs[name]).predict(test_rows)
        holdout_errors(test_rows, test_rows[TARGET].to_numpy(), predicted).to_parquet(
            serving_dirs[name] / HOLDOUT_ERRORS_FILE
        )
        (serving_dirs[name] / PREDICTION_PROFILE_FILE).write_text(json.dumps(asdict(numeric_profile(predicted, 20))))
    holdout = test_rows.sample(n=500, random_state=0).reset_index(drop=True)
    return Trained(folder, spark_dirs, serving_dirs, holdout, profile_path)
