"""Model lifecycle without Dagster: the MLflow registry, promotion rules and the decision record."""
