"""Real champions for the tests that serve or monitor one.

Two small GBTs trained on green 2022-01, exported and registered in MLflow the way ``challenger_model`` does
(the ``trained`` fixture in ``conftest.py``).
"""

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
from pyspark.ml import PipelineModel
from pyspark.sql import SparkSession

from taxi_assets.features.columns import TARGET
from taxi_assets.lake_storage import lake_root
from taxi_assets.monitoring.accuracy import HOLDOUT_ERRORS_FILE, holdout_errors
from taxi_assets.monitoring.profile import PROFILE_FILE, fit_reference_profile, numeric_profile, write_profile
from taxi_assets.registry.models import CHAMPION, ModelRegistry, experiment_name, model_name
from taxi_assets.training.export import export_pipeline
from taxi_assets.training.pipeline import GbtParams, fit_pipeline
from taxi_assets.training.pyfunc import PREDICTION_PROFILE_FILE, serving_example
from taxi_assets.training.serving_model import FareModel
from taxi_assets_tests.conftest import featurize_month


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
    return [float(row["prediction"]) for row in scored.select("prediction").collect()]


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
