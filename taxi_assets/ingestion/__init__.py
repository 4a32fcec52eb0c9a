"""Ingestion without Dagster: the raw TLC schemas, reading a trip file, and the row rules that quarantine."""
