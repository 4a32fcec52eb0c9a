"""The Spark ML pipeline: categories indexed as sets, the seed making a fit repeatable, new categories kept."""

import pandas as pd
from pyspark.ml.regression import GBTRegressionModel
from pyspark.sql import SparkSession

from taxi_assets.features.columns import CATEGORICAL_FEATURES, FEATURES, TARGET
from taxi_assets.training.pipeline import ASSEMBLED_COLUMNS, PREDICTION, GbtParams, build_pipeline, fit_pipeline
from taxi_assets_tests.champions import synthetic_trips

PARAMS = GbtParams(max_iter=5, max_depth=3, step_size=0.3, subsampling_rate=0.8, max_bins=32,
                   min_instances_per_node=5, seed=11)  # fmt: skip


def test_the_stages_and_the_assembled_order_the_export_reads(spark: SparkSession) -> None:
    pipeline = build_pipeline(PARAMS)
    names = [type(stage).__name__ for stage in pipeline.getStages()]
    assert names == ["StringIndexer", "VectorAssembler", "GBTRegressor"]
    assert sorted(ASSEMBLED_COLUMNS) == sorted(
        [name for name in FEATURES if name not in CATEGORICAL_FEATURES] + [f"{n}_index" for n in CATEGORICAL_FEATURES]
    )


def test_the_same_seed_fits_the_same_trees_and_new_categories_are_priced(spark: SparkSession) -> None:
    rows = synthetic_trips(1_500, seed=3)[[*FEATURES, TARGET]]
    train = spark.createDataFrame(rows)
    first, again = fit_pipeline(train, PARAMS), fit_pipeline(train, PARAMS)
    trees: GBTRegressionModel = first.stages[-1]
    assert trees.getNumTrees == PARAMS.max_iter
    unseen = rows.head(5).assign(pickup_borough="Atlantis")  # a borough no training row had
    scored = [model.transform(spark.createDataFrame(pd.concat([rows.head(20), unseen]))) for model in (first, again)]
    predictions = [frame.select(PREDICTION).toPandas()[PREDICTION].tolist() for frame in scored]
    assert predictions[0] == predictions[1]
    assert len(predictions[0]) == 25
    assert all(value == value for value in predictions[0])  # no NaN, the unseen borough included
