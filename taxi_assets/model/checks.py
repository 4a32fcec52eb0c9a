"""The names of the checks every model version is registered with, as MLflow tags and in the asset's checks.

Training runs them (``training.challenger``) and promotion reads them back (``registry.champion``): a version
whose export does not reproduce Spark, or whose fares do not behave like fares, is never promoted.
"""

from typing import Final

# the ONNX export reproduces Spark on the test split, finite and never negative
PARITY_CHECK: Final = "serving_artifact_parity"
# fares rise with distance on the probe trips and are never negative
BEHAVIOUR_CHECK: Final = "fare_behaviour"
