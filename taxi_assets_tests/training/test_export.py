from pathlib import Path

import numpy as np
import onnxruntime as ort
import pandas as pd
import pytest
from pyspark.sql import SparkSession

from taxi_assets.features.columns import CATEGORICAL_FEATURES, FEATURES
from taxi_assets.features.schema import read_feature_table
from taxi_assets.model.fare_model import FareModel
from taxi_assets.model.spec import FARE_FLOOR_USD, ONNX_INPUT
from taxi_assets.training.export import (
    BRANCH_MEMBER,
    SparkTree,
    build_onnx,
    explainer,
    export_pipeline,
    read_feature_spec,
    read_spark_trees,
)
from taxi_assets.training.pipeline import PREDICTION, GbtParams, fit_pipeline
from taxi_assets_tests.model.support import shapley_by_definition
from taxi_assets_tests.support import featurize_month


def leaf(value: float) -> dict[str, object]:
    return {"prediction": value, "leftChild": -1, "rightChild": -1, "split": None}


def branch(feature: int, left: int, right: int, threshold: float | None = None, members: list[float] | None = None):
    split = {
        "featureIndex": feature,
        "leftCategoriesOrThreshold": members if members is not None else [threshold],
        "numCategories": 5 if members is not None else -1,
    }
    return {"prediction": 0.0, "leftChild": left, "rightChild": right, "split": split}


def run_onnx(trees: list[SparkTree], rows: list[list[float]]) -> np.ndarray:
    session = ort.InferenceSession(build_onnx(trees, n_features=2).SerializeToString())
    (output,) = session.run(None, {ONNX_INPUT: np.asarray(rows, dtype=np.float64)})
    return output.reshape(-1)


def test_hand_made_trees_score_as_spark_would() -> None:
    # tree 0: x0 <= 2.5 ? (x1 in {0, 3} ? 10 : 20) : 30      tree 1 (weight 0.1): a single leaf of 7
    tree0 = SparkTree(
        weight=1.0,
        nodes={
            0: branch(0, 1, 4, threshold=2.5),
            1: branch(1, 2, 3, members=[0.0, 3.0]),
            2: leaf(10.0),
            3: leaf(20.0),
            4: leaf(30.0),
        },
    )
    tree1 = SparkTree(weight=0.1, nodes={0: leaf(7.0)})
    rows = [[2.5, 0.0], [1.0, 3.0], [1.0, 1.0], [2.5000001, 0.0], [1.0, 4.0]]
    assert run_onnx([tree0, tree1], rows).tolist() == pytest.approx([10.7, 10.7, 20.7, 30.7, 20.7], abs=1e-12)


def test_no_fare_below_the_floor_whatever_the_trees_sum_to() -> None:
    # a tree that sums below zero on the left (a GBT's leaves can, for trips unlike its training rows)
    tree = SparkTree(weight=1.0, nodes={0: branch(0, 1, 2, threshold=1.0), 1: leaf(-1.46), 2: leaf(12.5)})
    assert run_onnx([tree], [[0.5, 0.0], [3.0, 0.0]]).tolist() == [FARE_FLOOR_USD, 12.5]


@pytest.fixture(scope="module")
def small_model(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory, tlc_dir: Path) -> tuple[Path, Path]:
    """A small GBT trained for real on features of green 2022-01, saved and exported."""
    folder = tmp_path_factory.mktemp("model")
    features = featurize_month(spark, "2022-01", folder)
    frame = spark.read.parquet(str(features))
    train, test = frame.randomSplit([0.8, 0.2], seed=1)
    model = fit_pipeline(train, GbtParams(8, 4, 0.3, 1.0, 32, 1, 1))
    model.write().overwrite().save(str(folder / "spark"))
    test.write.parquet(str(folder / "test"))
    export_pipeline(folder / "spark", folder / "serving")
    return folder, folder / "test"


def test_export_matches_spark_on_real_rows_with_categorical_splits(
    spark: SparkSession, small_model: tuple[Path, Path]
) -> None:
    folder, test_path = small_model
    trees = read_spark_trees(folder / "spark")
    assert any(node["split"] and node["split"]["numCategories"] >= 0 for tree in trees for node in tree.nodes.values())
    model = FareModel.load(folder / "serving")
    modes = next(a for a in model_nodes(folder) if a.name == "nodes_modes")
    assert BRANCH_MEMBER in np.frombuffer(modes.t.raw_data, dtype=np.uint8)

    from pyspark.ml import PipelineModel

    spark_model = PipelineModel.load(str(folder / "spark"))
    scored = spark_model.transform(spark.read.parquet(str(test_path))).toPandas()
    predicted = model.predict(scored)
    expected = np.maximum(scored[PREDICTION].to_numpy(), FARE_FLOOR_USD)  # the export floors the fare
    assert np.max(np.abs(predicted - expected)) <= 1e-9
    assert model.predict_row(scored.iloc[0][list(FEATURES)].to_dict()) == pytest.approx(expected[0], abs=1e-9)


def test_unseen_categories_score_like_spark(spark: SparkSession, small_model: tuple[Path, Path]) -> None:
    folder, test_path = small_model
    from pyspark.ml import PipelineModel

    rows = read_feature_table(test_path).head(20).copy()
    rows["pickup_borough"] = "Atlantis"
    rows["RatecodeID"] = 77
    scored = PipelineModel.load(str(folder / "spark")).transform(spark.createDataFrame(rows)).toPandas()
    predicted = FareModel.load(folder / "serving").predict(rows)
    assert np.max(np.abs(predicted - np.maximum(scored[PREDICTION].to_numpy(), FARE_FLOOR_USD))) <= 1e-9


def test_feature_spec_reads_the_indexer_labels(small_model: tuple[Path, Path]) -> None:
    spec = read_feature_spec(small_model[0] / "spark")
    assert set(spec.categories) == set(CATEGORICAL_FEATURES)
    # frequency order: Manhattan is the most common pickup borough of green trips
    assert spec.categories["pickup_borough"][0] == "Manhattan"
    assert all(isinstance(code, str) for code in spec.categories["RatecodeID"])
    assert "1" in spec.categories["RatecodeID"]
    assert len(spec.columns) == len(FEATURES)


def model_nodes(folder: Path) -> list:  # type: ignore[type-arg]
    import onnx

    return list(onnx.load(str(folder / "serving" / "model.onnx")).graph.node[0].attribute)


def test_integer_and_float_category_codes_are_the_same_category(small_model: tuple[Path, Path]) -> None:
    model = FareModel.load(small_model[0] / "serving")
    rows = read_feature_table(small_model[1]).head(5)
    as_float = rows.astype({"RatecodeID": "float64", "payment_type": "float64"})
    assert np.array_equal(model.predict(rows), model.predict(as_float))


def test_explanations_of_real_rows_add_up_to_the_served_fare_and_are_exact(small_model: tuple[Path, Path]) -> None:
    folder, test_path = small_model
    model = FareModel.load(folder / "serving")
    explained = explainer(read_spark_trees(folder / "spark"), len(model.spec.columns))
    matrix = model.encode(pd.read_parquet(test_path).head(1_000))
    # the export's trees price every row as the served ONNX file does
    assert np.max(np.abs(explained.predict(matrix) - model.predict_matrix(matrix))) <= 1e-9
    base = explained.base
    for x in matrix.tolist():
        assert max(FARE_FLOOR_USD, base + sum(explained.contributions(x))) == pytest.approx(
            model.predict_matrix(np.asarray([x]))[0], abs=1e-6
        )
    # against the definition (every subset of the features the trees use), on a few rows of the real trees
    for x in matrix[:3].tolist():
        assert explained.contributions(x) == pytest.approx(shapley_by_definition(explained, x), abs=1e-9)


# shap reads a Spark tree's splits as thresholds only (a categorical split has none): the comparison is on a GBT
# of the numeric and binary features, trained and saved the way the pipeline saves its GBT
SHAP_FEATURES = (
    "trip_distance",
    "trip_duration_minutes",
    "passenger_count",
    "pickup_hour",
    "pickup_day_of_week",
    "is_weekend",
    "is_rush_hour",
)


def test_the_exported_trees_explain_as_shaps_tree_explainer_on_the_live_spark_model(
    spark: SparkSession, small_model: tuple[Path, Path]
) -> None:
    import shap
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.regression import GBTRegressor

    folder, test_path = small_model
    features = spark.read.parquet(str(folder / "features-2022-01"))
    assembler = VectorAssembler(inputCols=list(SHAP_FEATURES), outputCol="features")
    gbt = GBTRegressor(labelCol="fare_amount", featuresCol="features", maxIter=20, maxDepth=5, seed=1)
    live = Pipeline(stages=[assembler, gbt]).fit(features)
    live.write().overwrite().save(str(folder / "numeric-spark"))
    ours = explainer(read_spark_trees(folder / "numeric-spark"), len(SHAP_FEATURES))
    rows = pd.read_parquet(test_path).head(1_000)[list(SHAP_FEATURES)].to_numpy(dtype=np.float64)
    theirs = shap.TreeExplainer(live.stages[-1])  # reads the trees through the JVM model, covers from its stats
    expected = np.asarray(theirs.shap_values(rows, check_additivity=False))
    mine = np.array([ours.contributions(row) for row in rows.tolist()])
    assert float(np.ravel(theirs.expected_value)[0]) == pytest.approx(ours.base, abs=1e-6)
    assert np.max(np.abs(mine - expected)) <= 1e-6
    # and both add up to what Spark predicts for the rows
    scored = live.transform(spark.read.parquet(str(test_path)).limit(1_000)).select(PREDICTION).toPandas()
    assert np.max(np.abs(ours.base + mine.sum(axis=1) - scored[PREDICTION].to_numpy())) <= 1e-6
