"""Pure modeling logic (schemas, features, splits): no Dagster imports, shared with taxi_serving."""
