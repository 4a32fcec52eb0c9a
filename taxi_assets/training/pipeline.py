"""The Spark ML pipeline: categorical features indexed, everything assembled, a gradient-boosted tree regressor."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Final

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.feature import StringIndexer, VectorAssembler
from pyspark.ml.regression import GBTRegressor
from pyspark.sql import DataFrame

from taxi_assets.features.columns import BINARY_FEATURES, CATEGORICAL_FEATURES, INDEX_SUFFIX, NUMERIC_FEATURES, TARGET

FEATURE_VECTOR: Final = "features"
PREDICTION: Final = "prediction"
# Assembler order: numeric, binary, then the indexed categoricals; the export reads this order from the model.
ASSEMBLED_COLUMNS: Final = (
    *NUMERIC_FEATURES,
    *BINARY_FEATURES,
    *(f"{name}{INDEX_SUFFIX}" for name in CATEGORICAL_FEATURES),
)


@dataclass(frozen=True)
class GbtParams:
    """Hyperparameters and the seed of the gradient-boosted trees."""

    max_iter: int
    max_depth: int
    step_size: float
    subsampling_rate: float
    max_bins: int
    min_instances_per_node: int
    seed: int

    def as_dict(self) -> dict[str, float | int]:
        """The parameters as logged to MLflow."""
        return asdict(self)


def build_pipeline(params: GbtParams) -> Pipeline:
    """StringIndexer (unknown categories kept as one extra index) -> VectorAssembler -> GBTRegressor.

    The indexer's nominal metadata travels through the assembler, so the trees split the categorical features
    on sets of categories rather than on their index as a number.
    """
    indexer = StringIndexer(
        inputCols=list(CATEGORICAL_FEATURES),
        outputCols=[f"{name}{INDEX_SUFFIX}" for name in CATEGORICAL_FEATURES],
        handleInvalid="keep",
        stringOrderType="frequencyDesc",
    )
    assembler = VectorAssembler(inputCols=list(ASSEMBLED_COLUMNS), outputCol=FEATURE_VECTOR)
    regressor = GBTRegressor(
        featuresCol=FEATURE_VECTOR,
        labelCol=TARGET,
        predictionCol=PREDICTION,
        maxIter=params.max_iter,
        maxDepth=params.max_depth,
        stepSize=params.step_size,
        subsamplingRate=params.subsampling_rate,
        maxBins=params.max_bins,
        minInstancesPerNode=params.min_instances_per_node,
        seed=params.seed,
    )
    return Pipeline(stages=[indexer, assembler, regressor])


def fit_pipeline(train: DataFrame, params: GbtParams) -> PipelineModel:
    """Fit the pipeline on training rows."""
    return build_pipeline(params).fit(train)
