"""Modeling logic without Dagster: raw schemas and validation, features, split, training, export, scoring.

The plain-Python parts (``features``, ``serving_model``, ``export``, ``pyfunc``) are shared with the API; the
Spark parts (``spark_features``, ``training``) are not, and the import contract keeps them out of it.
"""
