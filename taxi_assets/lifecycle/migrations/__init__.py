"""Alembic migrations of the platform database (prediction_log, promotion_decisions, alert_history)."""
