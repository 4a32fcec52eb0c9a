"""TreeSHAP on exported trees: exact Shapley values, local accuracy, the ONNX file's predictions, JSON round trip.

The ensembles are random, in Spark's saved layout (continuous and categorical splits, features split again
further down a path, covers that add up), so nothing depends on a hand-picked case. The reference is the
definition: Shapley values of the path-dependent game (a feature left out follows both branches of its splits,
weighted by their covers), by enumerating every subset of the features the trees use.
"""

import random
from collections.abc import Sequence

import numpy as np
import pytest

from taxi_assets.model.explain import FareExplainer
from taxi_assets.model.fare_model import FareModel
from taxi_assets.model.spec import FARE_FLOOR_USD, FeatureSpec
from taxi_assets.training.export import SparkTree, build_onnx, explainer
from taxi_assets_tests.model.support import shapley_by_definition

N_FEATURES = 12
CATEGORICAL = (8, 9, 10, 11)  # encoded categories 0..4; 5 is a category the trees never saw
LABELS = ["0", "1", "2", "3", "4"]


def random_tree(rng: random.Random, depth: int, features: Sequence[int], weight: float) -> SparkTree:
    """A tree in Spark's saved layout: nodes by id with children, split, prediction and ``impurityStats``."""
    nodes: dict[int, dict[str, object]] = {}

    def grow(node_id: int, level: int, cover: float) -> int:
        stats = [cover, 0.0, 0.0]
        if level == depth or cover < 4 or rng.random() < 0.15:
            nodes[node_id] = {"id": node_id, "prediction": rng.gauss(0, 5), "leftChild": -1, "rightChild": -1}
            nodes[node_id] |= {"split": {}, "impurityStats": stats}
            return node_id + 1
        feature = rng.choice(features)
        if feature in CATEGORICAL:
            left = sorted(rng.sample(range(5), rng.randint(1, 4)))
            split = {"featureIndex": feature, "leftCategoriesOrThreshold": [float(c) for c in left], "numCategories": 5}
        else:
            split = {"featureIndex": feature, "leftCategoriesOrThreshold": [rng.uniform(0, 10)], "numCategories": -1}
        left_cover = float(rng.randint(1, int(cover) - 1))
        left_id = node_id + 1
        right_id = grow(left_id, level + 1, left_cover)
        after = grow(right_id, level + 1, cover - left_cover)
        nodes[node_id] = {"id": node_id, "prediction": 0.0, "leftChild": left_id, "rightChild": right_id}
        nodes[node_id] |= {"split": split, "impurityStats": stats}
        return after

    grow(0, 0, float(rng.randint(200, 5_000)))
    return SparkTree(weight, nodes)


def random_ensemble(seed: int, trees: int = 6, depth: int = 4) -> list[SparkTree]:
    rng = random.Random(seed)
    used = rng.sample(range(N_FEATURES), 6)
    return [random_tree(rng, depth, used, 1.0 if index == 0 else 0.1) for index in range(trees)]


def random_rows(seed: int, count: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = rng.uniform(0, 10, size=(count, N_FEATURES))
    rows[:, CATEGORICAL] = rng.integers(0, 6, size=(count, len(CATEGORICAL)))
    return rows


@pytest.mark.parametrize("seed", range(4))
def test_contributions_are_the_exact_shapley_values_of_the_path_dependent_game(seed: int) -> None:
    model = explainer(random_ensemble(seed), N_FEATURES)
    for x in random_rows(seed, 5).tolist():
        assert model.contributions(x) == pytest.approx(shapley_by_definition(model, x), abs=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_base_and_contributions_add_up_to_the_ensembles_sum(seed: int) -> None:
    model = explainer(random_ensemble(seed, trees=20, depth=6), N_FEATURES)
    base = model.base
    for x in random_rows(seed, 200).tolist():
        assert base + sum(model.contributions(x)) == pytest.approx(model.raw(x), abs=1e-9)


def test_a_feature_no_tree_splits_on_contributes_nothing() -> None:
    trees = random_ensemble(7)
    model = explainer(trees, N_FEATURES)
    unused = set(range(N_FEATURES)) - {f for tree in model.trees for f in tree.feature}
    assert unused
    for x in random_rows(7, 20).tolist():
        phi = model.contributions(x)
        assert all(phi[feature] == 0.0 for feature in unused)


@pytest.mark.parametrize("seed", range(3))
def test_the_exported_trees_predict_what_the_onnx_file_predicts(seed: int) -> None:
    trees = random_ensemble(seed, trees=20, depth=6)
    columns = [f"f{i}" for i in range(N_FEATURES)]
    categories = {columns[i]: LABELS for i in CATEGORICAL}
    onnx_model = FareModel(build_onnx(trees, N_FEATURES).SerializeToString(), FeatureSpec(columns, categories))
    rows = random_rows(seed, 500)
    assert np.array_equal(explainer(trees, N_FEATURES).predict(rows), onnx_model.predict_matrix(rows))


def test_the_fare_floor_applies_to_predictions_and_not_to_the_sum() -> None:
    below = {0: {"id": 0, "prediction": -3.0, "leftChild": -1, "rightChild": -1, "split": {}, "impurityStats": [9.0]}}
    model = explainer([SparkTree(1.0, below)], N_FEATURES)
    row = [0.0] * N_FEATURES
    assert model.raw(row) == -3.0
    assert model.predict(np.asarray([row]))[0] == FARE_FLOOR_USD
    assert model.base == -3.0
    assert model.contributions(row) == [0.0] * N_FEATURES


def test_json_round_trip_keeps_every_split_and_contribution() -> None:
    model = explainer(random_ensemble(3, trees=10), N_FEATURES)
    again = FareExplainer.from_json(model.to_json())
    assert again.n_features == model.n_features
    assert again.floor == model.floor
    for x in random_rows(3, 50).tolist():
        assert again.contributions(x) == model.contributions(x)
        assert again.raw(x) == model.raw(x)


@pytest.mark.parametrize("seed", range(3))
def test_rows_taken_down_together_reach_the_leaves_they_reach_one_by_one(seed: int) -> None:
    model = explainer(random_ensemble(seed, trees=10, depth=6), N_FEATURES)
    rows = random_rows(seed, 300)
    # categories the trees never saw, codes that are not whole, below zero or beyond any split's set
    rows[:50, list(CATEGORICAL)] = np.random.default_rng(seed).choice([-1.0, 2.5, 5.0, 99.0], size=(50, 4))
    for tree in model.trees:
        assert tree.leaves(rows).tolist() == [tree.leaf(x) for x in rows.tolist()]
