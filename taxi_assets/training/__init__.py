"""Training without Dagster: fit, export, check and register a challenger.

The Spark ML pipeline (``pipeline``), its ONNX export and MLflow pyfunc, the Spark-free model the API serves
(``serving_model``), metrics, behaviour probes, and the whole sequence for one challenger (``challenger``). The
import contract keeps ``pipeline`` (Spark) out of the API.
"""
