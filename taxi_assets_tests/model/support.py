"""What the model tests share: a fare model with known answers, built without Spark."""

from taxi_assets.features.columns import FEATURES
from taxi_assets.model.fare_model import FareModel
from taxi_assets.model.spec import FeatureSpec
from taxi_assets.training.export import SparkTree, build_onnx
from taxi_assets_tests.champions import tiny_ensemble

CATEGORIES = {
    "RatecodeID": ["1", "2"],
    "payment_type": ["1", "2"],
    "pickup_borough": ["Manhattan", "Queens"],
    "dropoff_borough": ["Manhattan", "Queens"],
}


def tiny_model(scale: float = 1.0, offset: float = 0.0) -> FareModel:
    """The hand-written ensemble of ``champions.tiny_ensemble`` as a fare model, its distance trees times ``scale``.

    Fare = 8 / 16 / 32 by distance (cut at 2 and 6 miles), - 1.5 or + 2.5 by duration (cut at 15 minutes), + 0.5
    before 06:30, + ``offset`` (a one-leaf tree), floored at 0 as every export is.
    """
    constant = {0: {"id": 0, "prediction": offset, "leftChild": -1, "rightChild": -1, "split": {}}}
    trees = tiny_ensemble(scale) + ([SparkTree(1.0, constant)] if offset else [])
    onnx_model = build_onnx(trees, n_features=len(FEATURES))
    return FareModel(onnx_model.SerializeToString(), FeatureSpec(columns=list(FEATURES), categories=CATEGORIES))
