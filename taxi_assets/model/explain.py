"""Why this fare: exact TreeSHAP contributions from the served model's own trees, with no JVM and no Spark.

shap's ``TreeExplainer`` reads a Spark model only through the live Java object (``_java_obj.rootNode()``), so it
cannot run in the API, and it stops at categorical splits (``NotImplementedError``): this model splits on the
rate code, the payment type and the boroughs as categories (346 of the demo champion's 914 splits). Nothing turns
the ONNX file back into trees either. So the trees are exported once more, in the form TreeSHAP reads, from the
same saved files the ONNX export reads (``training.export.explainer``): per node its split (a threshold, a
row going left when its value is at most it; or the categories that go left), its children, and its cover, the
(weighted) count of training rows that reached it, Spark's ``impurityStats[0]``. Each leaf's value carries its
tree's weight, so a row's leaves sum to Spark's prediction exactly as the ONNX file's do, before the fare floor.

``FareExplainer.contributions`` is the path-dependent TreeSHAP algorithm (Lundberg, Erion and Lee, "Consistent
individualized feature attribution for tree ensembles", 2018, Algorithm 2; the path bookkeeping as in shap's
``tree_shap.h``): the exact Shapley values of the game in which a feature left out follows both branches of its
splits, weighted by their covers. They add up: ``base + sum(contributions) == raw(x)``, where ``base`` is the
cover-weighted mean of the leaves, the expected fare of a training row.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Final

import numpy as np

# the file beside ``model.onnx`` that holds the trees in this form (``FareExplainer.to_json``)
EXPLAIN_FILE: Final = "explain_trees.json"
# how far the trees' price of a row may be from the ONNX file's (both sum the same leaves: 0 where measured)
EXPLAIN_TOLERANCE_USD: Final = 1e-9


@dataclass(frozen=True)
class ExplainedTree:
    """One tree, nodes by position (the root first): children (-1 at a leaf), split, leaf value, cover."""

    left: list[int]
    right: list[int]
    feature: list[int]
    threshold: list[float]
    members: list[frozenset[float] | None]  # a categorical split's categories that go left, else None
    value: list[float]
    cover: list[float]

    def goes_left(self, node: int, x: Sequence[float]) -> bool:
        """Whether row ``x`` takes the left branch of split ``node``."""
        members = self.members[node]
        value = x[self.feature[node]]
        return value in members if members is not None else value <= self.threshold[node]

    def leaf(self, x: Sequence[float]) -> int:
        """The leaf row ``x`` reaches."""
        node = 0
        while self.left[node] >= 0:
            node = self.left[node] if self.goes_left(node, x) else self.right[node]
        return node

    def expected(self) -> float:
        """The mean leaf value over the training rows (the leaves weighted by their covers)."""
        leaves = [node for node, child in enumerate(self.left) if child < 0]
        return sum(self.value[node] * self.cover[node] for node in leaves) / self.cover[0]

    @cached_property
    def _walk(self) -> _Walk:
        return _Walk.of(self)

    def leaves(self, matrix: np.ndarray) -> np.ndarray:
        """The leaf every row of ``matrix`` reaches, all rows a level at a time (``leaf`` for many rows)."""
        walk = self._walk
        node = np.zeros(len(matrix), dtype=np.int64)
        rows = np.arange(len(matrix))
        for _ in range(walk.depth):
            value = matrix[rows, walk.feature[node]]
            code = np.where((value >= 0) & (value < walk.members.shape[1]) & (value == np.floor(value)), value, -1)
            member = walk.members[node, np.maximum(code, 0).astype(np.int64)] & (code >= 0)
            left = np.where(walk.categorical[node], member, value <= walk.threshold[node])
            node = np.where(walk.left[node] < 0, node, np.where(left, walk.left[node], walk.right[node]))
        return node

    def add_contributions(self, x: Sequence[float], phi: list[float]) -> None:
        """Add this tree's Shapley values for row ``x`` to ``phi`` (one slot per feature)."""
        _recurse(self, x, phi, 0, [], [], [], [], 0, 1.0, 1.0, -1)


@dataclass(frozen=True)
class _Walk:
    """A tree as arrays, for taking many rows down it at once."""

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    categorical: np.ndarray
    members: np.ndarray  # node x category code: whether that category goes left
    depth: int

    @classmethod
    def of(cls, tree: ExplainedTree) -> _Walk:
        codes = [int(code) for members in tree.members if members for code in members]
        table = np.zeros((len(tree.left), max(codes, default=0) + 1), dtype=bool)
        for node, members in enumerate(tree.members):
            for code in members or ():
                table[node, int(code)] = True
        depth, level = 0, [(0, 0)]
        while level:
            node, at = level.pop()
            depth = max(depth, at)
            if tree.left[node] >= 0:
                level += [(tree.left[node], at + 1), (tree.right[node], at + 1)]
        return cls(
            left=np.asarray(tree.left, dtype=np.int64),
            right=np.asarray(tree.right, dtype=np.int64),
            feature=np.maximum(np.asarray(tree.feature, dtype=np.int64), 0),
            threshold=np.nan_to_num(np.asarray(tree.threshold, dtype=np.float64), nan=0.0),
            categorical=np.asarray([members is not None for members in tree.members], dtype=bool),
            members=table,
            depth=depth,
        )


def _recurse(
    tree: ExplainedTree,
    x: Sequence[float],
    phi: list[float],
    node: int,
    features: list[int],
    zeros: list[float],
    ones: list[float],
    weights: list[float],
    depth: int,
    zero: float,
    one: float,
    feature: int,
) -> None:
    """TreeSHAP's recursion: extend the path with the split that led here, then a leaf's share or both branches."""
    features, zeros, ones = [*features[:depth], feature], [*zeros[:depth], zero], [*ones[:depth], one]
    weights = [*weights[:depth], 1.0 if depth == 0 else 0.0]
    for i in range(depth - 1, -1, -1):
        weights[i + 1] += one * weights[i] * (i + 1) / (depth + 1)
        weights[i] = zero * weights[i] * (depth - i) / (depth + 1)
    left = tree.left[node]
    if left < 0:
        value = tree.value[node]
        for i in range(1, depth + 1):
            share = _unwound_sum(zeros, ones, weights, depth, i)
            phi[features[i]] += share * (ones[i] - zeros[i]) * value
        return
    right, split, cover = tree.right[node], tree.feature[node], tree.cover[node]
    hot, cold = (left, right) if tree.goes_left(node, x) else (right, left)
    incoming_zero = incoming_one = 1.0
    if split in features:  # split on this feature before: undo that step, redo it here
        k = features.index(split)
        incoming_zero, incoming_one = zeros[k], ones[k]
        _unwind(features, zeros, ones, weights, depth, k)
        depth -= 1
    for child, child_one in ((hot, incoming_one), (cold, 0.0)):
        child_zero = tree.cover[child] / cover * incoming_zero
        _recurse(tree, x, phi, child, features, zeros, ones, weights, depth + 1, child_zero, child_one, split)


def _unwind(
    features: list[int], zeros: list[float], ones: list[float], weights: list[float], depth: int, k: int
) -> None:
    """Remove path element ``k`` in place: the weights as if it had never been added."""
    one, zero = ones[k], zeros[k]
    following = weights[depth]
    for i in range(depth - 1, -1, -1):
        if one != 0:
            kept = weights[i]
            weights[i] = following * (depth + 1) / ((i + 1) * one)
            following = kept - weights[i] * zero * (depth - i) / (depth + 1)
        else:
            weights[i] = weights[i] * (depth + 1) / (zero * (depth - i))
    for i in range(k, depth):
        features[i], zeros[i], ones[i] = features[i + 1], zeros[i + 1], ones[i + 1]


def _unwound_sum(zeros: list[float], ones: list[float], weights: list[float], depth: int, k: int) -> float:
    """The path's total weight with element ``k`` removed (``_unwind`` without changing anything)."""
    one, zero = ones[k], zeros[k]
    following, total = weights[depth], 0.0
    for i in range(depth - 1, -1, -1):
        if one != 0:
            share = following * (depth + 1) / ((i + 1) * one)
            total += share
            following = weights[i] - share * zero * (depth - i) / (depth + 1)
        elif zero != 0:
            total += weights[i] * (depth + 1) / (zero * (depth - i))
    return total


@dataclass(frozen=True)
class FareExplainer:
    """The ensemble's trees in TreeSHAP's form, the number of features and the fare floor of the served model."""

    trees: list[ExplainedTree]
    n_features: int
    floor: float

    @cached_property
    def base(self) -> float:
        """The expected raw prediction over the training rows: what the contributions start from."""
        return sum(tree.expected() for tree in self.trees)

    def raw(self, x: Sequence[float]) -> float:
        """The ensemble's sum for one encoded row, before the fare floor."""
        return sum(tree.value[tree.leaf(x)] for tree in self.trees)

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Floored predictions for encoded rows (float64, rows x features): what the ONNX file gives."""
        matrix = np.asarray(matrix, dtype=np.float64)
        total = np.zeros(len(matrix), dtype=np.float64)
        for tree in self.trees:  # in the trees' order, as the ONNX ensemble sums them
            total += np.asarray(tree.value, dtype=np.float64)[tree.leaves(matrix)]
        return np.maximum(total, self.floor)

    def contributions(self, x: Sequence[float]) -> list[float]:
        """Each feature's contribution to ``raw(x)``; ``base + sum(contributions) == raw(x)``."""
        phi = [0.0] * self.n_features
        row = list(x)
        for tree in self.trees:
            tree.add_contributions(row, phi)
        return phi

    def to_json(self) -> str:
        """The trees as JSON (logged beside the ONNX file; ``from_json`` reads it)."""
        trees = [
            {
                "left": tree.left,
                "right": tree.right,
                "feature": tree.feature,
                "threshold": [None if np.isnan(t) else t for t in tree.threshold],
                "members": [None if m is None else sorted(m) for m in tree.members],
                "value": tree.value,
                "cover": tree.cover,
            }
            for tree in self.trees
        ]
        return json.dumps({"n_features": self.n_features, "floor": self.floor, "trees": trees})

    @classmethod
    def from_json(cls, text: str) -> FareExplainer:
        """Read what ``to_json`` wrote."""
        data: dict[str, Any] = json.loads(text)
        trees = [
            ExplainedTree(
                left=tree["left"],
                right=tree["right"],
                feature=tree["feature"],
                threshold=[float("nan") if t is None else float(t) for t in tree["threshold"]],
                members=[None if m is None else frozenset(m) for m in tree["members"]],
                value=tree["value"],
                cover=tree["cover"],
            )
            for tree in data["trees"]
        ]
        return cls(trees, int(data["n_features"]), float(data["floor"]))
