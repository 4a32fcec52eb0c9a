"""Retraining without Dagster: what a retraining trains on, and the sensor's memory.

``months`` picks and checks the months; ``traffic`` turns the labelled traffic of the prediction log into
features; ``cursor`` is the retraining sensor's per-service cursor.
"""
