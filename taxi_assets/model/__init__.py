"""What a model version is and carries, without Dagster and without Spark.

The Spark-free fare model the API serves (``fare_model``) and the feature spec of its ONNX input (``spec``), its
MLflow pyfunc (``pyfunc``), the reference profile of its training split (``profile``), its errors on its own holdout
(``holdout``), its metrics (``evaluation``), the probe trips and latency it is checked on (``probes``) and the
names of those checks (``checks``), and the MLflow versions and aliases that hold it (``versions``). Training
writes these, monitoring and promotion read them: all three import this package, and it imports none of them.
"""
