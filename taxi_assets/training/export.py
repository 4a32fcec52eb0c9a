"""Export a saved Spark PipelineModel to a Spark-free artifact: category maps plus an ONNX tree ensemble.

The saved model's parquet and JSON files are read with pyarrow (no JVM). Spark's trees go into one
``ai.onnx.ml`` opset-5 ``TreeEnsemble`` node in float64: a continuous split "value <= threshold goes left"
becomes ``BRANCH_LEQ``, a categorical split "category in set goes left" becomes ``BRANCH_MEMBER`` with the
same set, and each leaf value is multiplied by its tree's weight so the SUM of leaves is Spark's prediction. A
``Max`` node then floors it at ``FARE_FLOOR_USD`` (no fare below zero, in every path that loads the file).
(onnxmltools maps Spark's GBT regressor onto its classifier converter and reads categorical splits as
thresholds, so it is not used.)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import onnx
import pyarrow.parquet as pq
from onnx import TensorProto, helper, numpy_helper

from taxi_assets.features.columns import CATEGORICAL_FEATURES, INDEX_SUFFIX
from taxi_assets.model.explain import EXPLAIN_FILE, ExplainedTree, FareExplainer
from taxi_assets.model.spec import FARE_FLOOR_USD, ONNX_INPUT, ONNX_OUTPUT, FeatureSpec

# onnxruntime 1.2x-1.3x loads models up to IR version 10 at least; onnx 1.23 would write 14 by default.
ONNX_IR_VERSION: Final = 10
ONNX_OPSETS: Final = (("", 21), ("ai.onnx.ml", 5))
BRANCH_LEQ: Final = 0
BRANCH_MEMBER: Final = 6
RAW_OUTPUT: Final = "trees_sum"  # the ensemble's sum before the fare floor
FLOOR_NAME: Final = "fare_floor"


@dataclass(frozen=True)
class SparkTree:
    """One decision tree as Spark saved it: nodes by id, and its weight in the ensemble."""

    weight: float
    nodes: dict[int, dict[str, Any]]


def _stage_dirs(model_dir: Path) -> dict[str, Path]:
    stages = {}
    for path in sorted((model_dir / "stages").iterdir()):
        metadata = json.loads(next((path / "metadata").glob("part-*")).read_text())
        stages[metadata["class"].rsplit(".", 1)[-1]] = path
    return stages


def _metadata(stage: Path) -> dict[str, Any]:
    metadata: dict[str, Any] = json.loads(next((stage / "metadata").glob("part-*")).read_text())
    return metadata


def read_feature_spec(model_dir: Path) -> FeatureSpec:
    """Category labels of the StringIndexer and input order of the VectorAssembler of a saved pipeline."""
    stages = _stage_dirs(model_dir)
    indexer = stages["StringIndexerModel"]
    params = _metadata(indexer)["paramMap"]
    labels = pq.read_table(indexer / "data").column("labelsArray")[0].as_py()
    categories = {column: list(values) for column, values in zip(params["inputCols"], labels, strict=True)}
    assembled = _metadata(stages["VectorAssembler"])["paramMap"]["inputCols"]
    columns = [name.removesuffix(INDEX_SUFFIX) if name.endswith(INDEX_SUFFIX) else name for name in assembled]
    missing = [name for name in CATEGORICAL_FEATURES if name not in categories]
    if missing:
        raise ValueError(f"{model_dir}: the indexer has no categories for {missing}")
    return FeatureSpec(columns=columns, categories=categories)


def read_spark_trees(model_dir: Path) -> list[SparkTree]:
    """The GBT's trees with their weights; accepts Spark 3 (treeID/weights) and Spark 4 (_1/_3) metadata."""
    stage = _stage_dirs(model_dir)["GBTRegressionModel"]
    meta = pq.read_table(stage / "treesMetadata").to_pylist()
    weights = {int(row.get("treeID", row.get("_1"))): float(row.get("weights", row.get("_3"))) for row in meta}
    nodes: dict[int, dict[int, dict[str, Any]]] = {tree: {} for tree in weights}
    for row in pq.read_table(stage / "data").to_pylist():
        node = row["nodeData"]
        nodes[int(row["treeID"])][int(node["id"])] = node
    return [SparkTree(weight=weights[tree], nodes=nodes[tree]) for tree in sorted(weights)]


def _root(tree: SparkTree) -> int:
    """The id of the one node that is no node's child."""
    children = {int(n["leftChild"]) for n in tree.nodes.values()} | {int(n["rightChild"]) for n in tree.nodes.values()}
    (root_id,) = [node_id for node_id in tree.nodes if node_id not in children]
    return root_id


def explained_tree(tree: SparkTree) -> ExplainedTree:
    """A tree as Spark saved it (nodes by id, with ``impurityStats``) in TreeSHAP's form, the root first.

    The cover of a node is the weighted count of training rows that reached it (``impurityStats[0]``); a leaf's
    value carries the tree's weight, as in the ONNX file.
    """
    order, waiting = [], [_root(tree)]
    while waiting:  # positions in the order nodes are met from the root
        node = tree.nodes[waiting.pop(0)]
        order.append(node)
        if node["leftChild"] >= 0:
            waiting += [int(node["leftChild"]), int(node["rightChild"])]
    position = {int(node["id"]): index for index, node in enumerate(order)}
    explained = ExplainedTree([], [], [], [], [], [], [])
    for node in order:
        explained.cover.append(float(node["impurityStats"][0]))
        split = node["split"] if node["leftChild"] >= 0 else None
        explained.left.append(position[int(node["leftChild"])] if split else -1)
        explained.right.append(position[int(node["rightChild"])] if split else -1)
        explained.feature.append(int(split["featureIndex"]) if split else -1)
        explained.value.append(0.0 if split else tree.weight * float(node["prediction"]))
        categorical = split is not None and split["numCategories"] >= 0
        bound = split["leftCategoriesOrThreshold"] if split else []
        explained.threshold.append(float(bound[0]) if split and not categorical else float("nan"))
        explained.members.append(frozenset(map(float, bound)) if categorical else None)
    return explained


def explainer(trees: list[SparkTree], n_features: int) -> FareExplainer:
    """The trees in the form TreeSHAP reads, under the same fare floor as the ONNX file."""
    return FareExplainer([explained_tree(tree) for tree in trees], n_features, FARE_FLOOR_USD)


@dataclass
class _Ensemble:
    """The flat arrays of one ``TreeEnsemble`` node, filled tree by tree (branches first, leaves apart)."""

    modes: list[int] = field(default_factory=list)
    feature_ids: list[int] = field(default_factory=list)
    splits: list[float] = field(default_factory=list)
    true_ids: list[int] = field(default_factory=list)
    true_leafs: list[int] = field(default_factory=list)
    false_ids: list[int] = field(default_factory=list)
    false_leafs: list[int] = field(default_factory=list)
    members: list[float] = field(default_factory=list)
    leaf_weights: list[float] = field(default_factory=list)
    roots: list[int] = field(default_factory=list)

    def add_leaf(self, weight: float) -> int:
        self.leaf_weights.append(weight)
        return len(self.leaf_weights) - 1

    def add_node(self, mode: int, feature: int, split: float) -> int:
        """A branch with its children still to be set; returns its position."""
        self.modes.append(mode)
        self.feature_ids.append(feature)
        self.splits.append(split)
        for children in (self.true_ids, self.true_leafs, self.false_ids, self.false_leafs):
            children.append(0)
        return len(self.modes) - 1

    def add_branch(self, tree: SparkTree, node: dict[str, Any]) -> int:
        """A Spark split and, recursively, everything under it."""
        split = node["split"]
        if split["numCategories"] >= 0:
            position = self.add_node(BRANCH_MEMBER, int(split["featureIndex"]), 0.0)
            self.members.extend([*map(float, split["leftCategoriesOrThreshold"]), float("nan")])
        else:
            position = self.add_node(
                BRANCH_LEQ, int(split["featureIndex"]), float(split["leftCategoriesOrThreshold"][0])
            )
        for child_id, ids, leafs in (
            (node["leftChild"], self.true_ids, self.true_leafs),
            (node["rightChild"], self.false_ids, self.false_leafs),
        ):
            child = tree.nodes[int(child_id)]
            if child["leftChild"] < 0:
                ids[position], leafs[position] = self.add_leaf(tree.weight * child["prediction"]), 1
            else:
                ids[position], leafs[position] = self.add_branch(tree, child), 0
        return position

    def add_tree(self, tree: SparkTree) -> None:
        root = tree.nodes[_root(tree)]
        if root["leftChild"] >= 0:
            self.roots.append(self.add_branch(tree, root))
            return
        # a one-leaf tree: one LEQ node whose both branches reach the same leaf
        leaf = self.add_leaf(tree.weight * root["prediction"])
        position = self.add_node(BRANCH_LEQ, 0, 0.0)
        self.roots.append(position)
        self.true_ids[position], self.false_ids[position] = leaf, leaf
        self.true_leafs[position], self.false_leafs[position] = 1, 1

    def attributes(self) -> dict[str, Any]:
        """The node's attributes, in the tensor types ``ai.onnx.ml`` opset 5 asks for."""

        def tensor(name: str, values: Sequence[float], dtype: type = np.float64) -> onnx.TensorProto:
            return numpy_helper.from_array(np.asarray(values, dtype=dtype), name=name)

        attributes: dict[str, Any] = {
            "n_targets": 1,
            "aggregate_function": 1,
            "post_transform": 0,
            "tree_roots": self.roots,
            "nodes_modes": tensor("nodes_modes", self.modes, np.uint8),
            "nodes_featureids": self.feature_ids,
            "nodes_splits": tensor("nodes_splits", self.splits),
            "nodes_truenodeids": self.true_ids,
            "nodes_trueleafs": self.true_leafs,
            "nodes_falsenodeids": self.false_ids,
            "nodes_falseleafs": self.false_leafs,
            "leaf_targetids": [0] * len(self.leaf_weights),
            "leaf_weights": tensor("leaf_weights", self.leaf_weights),
        }
        if self.members:
            attributes["membership_values"] = tensor("membership_values", self.members)
        return attributes


def build_onnx(trees: list[SparkTree], n_features: int) -> onnx.ModelProto:
    """A float64 TreeEnsemble node whose output equals Spark's GBT prediction, floored at ``FARE_FLOOR_USD``."""
    ensemble = _Ensemble()
    for tree in trees:
        ensemble.add_tree(tree)
    trees_sum = helper.make_node(
        "TreeEnsemble", [ONNX_INPUT], [RAW_OUTPUT], domain="ai.onnx.ml", **ensemble.attributes()
    )
    floor = numpy_helper.from_array(np.asarray([FARE_FLOOR_USD], dtype=np.float64), name=FLOOR_NAME)
    floored = helper.make_node("Max", [RAW_OUTPUT, FLOOR_NAME], [ONNX_OUTPUT])
    graph = helper.make_graph(
        [trees_sum, floored],
        "taxi_fare_gbt",
        [helper.make_tensor_value_info(ONNX_INPUT, TensorProto.DOUBLE, [None, n_features])],
        [helper.make_tensor_value_info(ONNX_OUTPUT, TensorProto.DOUBLE, [None, 1])],
        initializer=[floor],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in ONNX_OPSETS])
    model.ir_version = ONNX_IR_VERSION
    onnx.checker.check_model(model)
    return model


def export_pipeline(model_dir: Path, out_dir: Path) -> tuple[Path, Path]:
    """Write ``model.onnx``, ``feature_spec.json`` and the trees for explanations for a saved PipelineModel.

    Returns the first two paths; the third is ``out_dir / EXPLAIN_FILE``.
    """
    spec = read_feature_spec(model_dir)
    trees = read_spark_trees(model_dir)
    model = build_onnx(trees, n_features=len(spec.columns))
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path, spec_path = out_dir / "model.onnx", out_dir / "feature_spec.json"
    onnx.save(model, onnx_path)
    spec_path.write_text(spec.to_json())
    (out_dir / EXPLAIN_FILE).write_text(explainer(trees, n_features=len(spec.columns)).to_json())
    return onnx_path, spec_path
