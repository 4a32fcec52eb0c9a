"""The MLflow pyfunc flavour of the exported model: ``mlflow.pyfunc.load_model`` scores without Spark."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from taxi_assets.features.columns import DECIMAL_FEATURES, FEATURES, INTEGER_FEATURES
from taxi_assets.model.explain import FareExplainer
from taxi_assets.model.fare_model import FareModel
from taxi_assets.model.profile import NumericProfile, ReferenceProfile
from taxi_assets.model.spec import FeatureSpec

ONNX_ARTIFACT: Final = "onnx_model"
SPEC_ARTIFACT: Final = "feature_spec"
PROFILE_ARTIFACT: Final = "reference_profile"
PREDICTION_PROFILE_ARTIFACT: Final = "prediction_profile"
PREDICTION_PROFILE_FILE: Final = "prediction_profile.json"
REFERENCE_SAMPLE_ARTIFACT: Final = "reference_sample"
HOLDOUT_ERRORS_ARTIFACT: Final = "holdout_errors"
EXPLAIN_ARTIFACT: Final = "explain_trees"
# MLflow pickles the python model by reference to its module. Versions registered before this module found its
# home in ``model`` name it by an earlier path (``modeling`` before the packages followed the loop, ``training``
# until the model version got a package of its own): those names stay importable, so they load.
FORMER_MODULES: Final = ("taxi_assets.modeling.pyfunc", "taxi_assets.training.pyfunc")
for _former in FORMER_MODULES:
    sys.modules.setdefault(_former, sys.modules[__name__])


class FarePyfunc(PythonModel):
    """The logged ONNX model as an MLflow pyfunc: predicts fares for a DataFrame of the 12 features.

    Loads ``model.onnx``, ``feature_spec.json`` and the reference profile of its training set from the artifacts.
    """

    # class-level defaults also cover versions pickled before the profile was logged with the model
    model: FareModel | None = None
    profile: ReferenceProfile | None = None
    # quantile bins of the model's own predictions on its holdout: the reference for prediction drift
    prediction_profile: NumericProfile | None = None
    # seeded rows of its training split: the sample KS and chi-square compare windows with
    reference_sample: pd.DataFrame | None = None
    # its errors on its own holdout, with segment columns: what accuracy on live labels is calibrated against
    holdout_errors: pd.DataFrame | None = None
    # its trees in the form TreeSHAP reads: each feature's contribution to a fare (versions logged since they were)
    explainer: FareExplainer | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the onnxruntime session (it is rebuilt from the artifacts on load)."""
        return {
            **self.__dict__,
            "model": None,
            "profile": None,
            "prediction_profile": None,
            "reference_sample": None,
            "holdout_errors": None,
            "explainer": None,
        }

    def load_context(self, context: Any) -> None:
        """Build the onnxruntime session once, when MLflow loads the model."""
        spec = FeatureSpec.from_json(Path(context.artifacts[SPEC_ARTIFACT]).read_text())
        self.model = FareModel(Path(context.artifacts[ONNX_ARTIFACT]).read_bytes(), spec)
        if PROFILE_ARTIFACT in context.artifacts:
            self.profile = ReferenceProfile.from_json(Path(context.artifacts[PROFILE_ARTIFACT]).read_text())
        if PREDICTION_PROFILE_ARTIFACT in context.artifacts:
            text = Path(context.artifacts[PREDICTION_PROFILE_ARTIFACT]).read_text()
            self.prediction_profile = NumericProfile(**json.loads(text))
        if REFERENCE_SAMPLE_ARTIFACT in context.artifacts:
            self.reference_sample = pd.read_csv(context.artifacts[REFERENCE_SAMPLE_ARTIFACT])
        if HOLDOUT_ERRORS_ARTIFACT in context.artifacts:
            self.holdout_errors = pd.read_parquet(context.artifacts[HOLDOUT_ERRORS_ARTIFACT])
        if EXPLAIN_ARTIFACT in context.artifacts:
            self.explainer = FareExplainer.from_json(Path(context.artifacts[EXPLAIN_ARTIFACT]).read_text())

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> np.ndarray:
        """Predicted fare per row of the 12 feature columns."""
        if self.model is None:
            self.load_context(context)
        assert self.model is not None  # set by load_context
        return self.model.predict(model_input)


def serving_example(test: pd.DataFrame) -> pd.DataFrame:
    """Five feature rows for the pyfunc's signature, in the types of ``signature_types``."""
    return signature_types(test.head(5))


def signature_types(rows: pd.DataFrame) -> pd.DataFrame:
    """The 12 features as the signature declares them, so ``predict`` takes what an MLflow user builds.

    Whole-number features are integers (``long``: ``pickup_hour=8``), distance and duration ``double``. MLflow
    converts neither way between int64 and float64 when it enforces a signature.
    """
    typed = rows[list(FEATURES)].copy()
    for column in INTEGER_FEATURES:
        typed[column] = typed[column].round().astype("int64")
    for column in DECIMAL_FEATURES:
        typed[column] = typed[column].astype("float64")
    return typed
