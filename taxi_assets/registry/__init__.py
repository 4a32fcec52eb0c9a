"""The model registry and promotion, without Dagster.

MLflow versions and aliases (``models``), the promotion rules (``promotion``), champion against challenger and
the alias moves (``champion``), and the decision record (``decisions``).
"""
