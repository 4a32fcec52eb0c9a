"""What the model tests share: a fare model with known answers, built without Spark, and Shapley values.

The Shapley values are computed by their definition (every subset of the features the trees use): the reference
the explanations are held to.
"""

import itertools
import math
from collections.abc import Sequence

from taxi_assets.features.columns import FEATURES
from taxi_assets.model.explain import ExplainedTree, FareExplainer
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
    constant = {
        0: {"id": 0, "prediction": offset, "leftChild": -1, "rightChild": -1, "split": {}, "impurityStats": [1]}
    }
    trees = tiny_ensemble(scale) + ([SparkTree(1.0, constant)] if offset else [])
    onnx_model = build_onnx(trees, n_features=len(FEATURES))
    return FareModel(onnx_model.SerializeToString(), FeatureSpec(columns=list(FEATURES), categories=CATEGORIES))


def expected_given(tree: ExplainedTree, x: Sequence[float], known: frozenset[int], node: int = 0) -> float:
    """The tree's value when only the features in ``known`` are known: the others follow both branches."""
    if tree.left[node] < 0:
        return tree.value[node]
    if tree.feature[node] in known:
        child = tree.left[node] if tree.goes_left(node, x) else tree.right[node]
        return expected_given(tree, x, known, child)
    left, right = tree.left[node], tree.right[node]
    both = tree.cover[left] * expected_given(tree, x, known, left)
    both += tree.cover[right] * expected_given(tree, x, known, right)
    return both / tree.cover[node]


def shapley_by_definition(model: FareExplainer, x: Sequence[float]) -> list[float]:
    players = sorted({feature for tree in model.trees for feature in tree.feature if feature >= 0})
    count = len(players)

    def value(known: frozenset[int]) -> float:
        return sum(expected_given(tree, x, known) for tree in model.trees)

    phi = [0.0] * model.n_features
    for player in players:
        others = [p for p in players if p != player]
        for size in range(count):
            weight = math.factorial(size) * math.factorial(count - size - 1) / math.factorial(count)
            for subset in itertools.combinations(others, size):
                known = frozenset(subset)
                phi[player] += weight * (value(known | {player}) - value(known))
    return phi
