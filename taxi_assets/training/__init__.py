"""Training without Dagster: fit, export, check and register a challenger.

The Spark ML pipeline (``pipeline``), its ONNX export (``export``), and the whole sequence for one challenger
(``challenger``). What the trained version carries (its pyfunc, profile, holdout errors, metrics and probes) is in
``taxi_assets.model``. The import contract keeps ``pipeline`` (Spark) out of the API.
"""
