"""Features without Dagster: the 12 model features, defined once and computed the same everywhere.

``columns`` defines them (plain Python, shared with the API), ``spark`` computes them in PySpark, ``schema``
validates and hashes a feature table, ``tables`` writes them to the lake, and ``split`` is the deterministic
train/test split.
"""
