"""How a feature row becomes the model's input: the ONNX graph's names and the feature spec stored beside it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Final

ONNX_INPUT: Final = "features"
ONNX_OUTPUT: Final = "fare"
# No fare is below zero: the exported graph ends in max(trees, FARE_FLOOR_USD), and training floors the Spark
# pipeline's prediction the same way before it is measured or compared with the export (a GBT's sum of leaves can
# go below zero for trips unlike its training rows). The parity check still refuses a negative prediction.
FARE_FLOOR_USD: Final = 0.0


@dataclass(frozen=True)
class FeatureSpec:
    """How a feature row becomes the model's input vector: column order and the category index maps."""

    columns: list[str]
    categories: dict[str, list[str]]

    def to_json(self) -> str:
        """Serialise (stored beside the ONNX model)."""
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> FeatureSpec:
        """Parse what ``to_json`` wrote."""
        return cls(**json.loads(text))
