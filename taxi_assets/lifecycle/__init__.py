"""Model lifecycle and the platform database, without Dagster.

The MLflow registry, the promotion and retraining rules, and the platform database: its schema and
migrations, the prediction log, the decision record, alerts and incidents.
"""
