"""Promotion and rollout, without Dagster.

The promotion rules (``promotion``), champion against challenger and the alias moves (``champion``), the decision
record (``decisions``), and the live rollout: its stages (``rollout``), the sequential test (``sequential``), the
live evidence (``live_evidence``) and the steps carried out (``stages``). The MLflow versions and aliases
themselves are in ``taxi_assets.model.versions``.
"""
