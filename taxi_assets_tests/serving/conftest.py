"""A real champion for the API tests: a small GBT trained on green 2022-01, exported and registered in MLflow."""

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import pytest
from litestar import Litestar
from litestar.testing import TestClient
from pyspark.ml import PipelineModel
from pyspark.sql import SparkSession

from taxi_assets.drift.accuracy import HOLDOUT_ERRORS_FILE, holdout_errors
from taxi_assets.drift.profile import PROFILE_FILE, fit_reference_profile, numeric_profile, write_profile
from taxi_assets.lakefs import lake_root
from taxi_assets.lifecycle.registry import CHAMPION, ModelRegistry, experiment_name, model_name
from taxi_assets.modeling.export import export_pipeline
from taxi_assets.modeling.features import FEATURES, TARGET
from taxi_assets.modeling.pyfunc import PREDICTION_PROFILE_FILE, serving_example
from taxi_assets.modeling.serving_model import FareModel
from taxi_assets.modeling.training import GbtParams, fit_pipeline
from taxi_assets_tests.conftest import featurize_month
from taxi_serving.app import create_app
from taxi_serving.settings import Settings

API_KEY = "test-key-1"
HEADERS = {"X-API-Key": API_KEY}


@dataclass
class Trained:
    """Two small real models (different seeds) with their Spark pipelines, saved exports and holdout rows."""

    folder: Path
    spark_dirs: dict[str, Path]
    serving_dirs: dict[str, Path]
    holdout: pd.DataFrame
    profile_path: Path


@pytest.fixture(scope="session")
def trained(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    folder = tmp_path_factory.mktemp("serving-models")
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


def make_settings(home: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "tracking_uri": f"sqlite:///{home / 'mlflow.db'}",
        "service": "green",
        "database_url": f"sqlite:///{home / 'platform.db'}",
        "cache_dir": home / "cache",
        "journal_dir": home / "journal",
        "api_keys": (API_KEY, "test-key-2"),
        "poll_interval_seconds": 3600.0,
        "log_flush_seconds": 0.05,
        "replay_seconds": 0.2,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@dataclass
class Served:
    """A registry with a champion and the app serving it."""

    home: Path
    registry: ModelRegistry
    champion_version: str
    app: Litestar
    client: TestClient  # type: ignore[type-arg]


@pytest.fixture
def served(trained: Trained, tmp_path: Path) -> Iterator[Served]:
    settings = make_settings(tmp_path)
    registry = ModelRegistry(settings.tracking_uri, (tmp_path / "artifacts").as_uri())
    version = register(registry, trained, "a")
    app = create_app(settings)
    with TestClient(app) as client:
        yield Served(tmp_path, registry, version, app, client)


def trip(rows: pd.DataFrame, index: int = 0) -> dict[str, object]:
    """One holdout row as a JSON request body."""
    record = rows.iloc[index][list(FEATURES)].to_dict()
    return {key: (value.item() if hasattr(value, "item") else value) for key, value in record.items()}
