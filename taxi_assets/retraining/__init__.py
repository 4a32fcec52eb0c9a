"""Retraining without Dagster: what a retraining trains on, and the sensor's memory.

``months`` picks and checks the months; ``cursor`` is the retraining sensor's per-service cursor.
"""
