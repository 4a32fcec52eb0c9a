"""Dagster code location for the NYC taxi fare platform."""
