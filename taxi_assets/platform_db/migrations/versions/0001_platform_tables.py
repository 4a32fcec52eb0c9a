"""The platform tables as first released: prediction_log, promotion_decisions, alert_history.

Databases made before migrations existed already hold some of these tables (each module created its own on
first use); this revision creates only the missing ones, so such a database is adopted as it is.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# frozen here: a later change to the feature list is a new revision, not an edit of this one
FEATURE_COLUMNS = (
    "trip_distance",
    "passenger_count",
    "pickup_hour",
    "pickup_day_of_week",
    "pickup_month",
    "trip_duration_minutes",
    "is_weekend",
    "is_rush_hour",
    "RatecodeID",
    "payment_type",
)
BOROUGH_COLUMNS = ("pickup_borough", "dropoff_borough")


def upgrade() -> None:
    """Create whichever of the three tables is missing."""
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "prediction_log" not in existing:
        op.create_table(
            "prediction_log",
            sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
            sa.Column("request_id", sa.String(64), nullable=False, unique=True),
            sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("endpoint", sa.String(32), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("status_code", sa.Integer, nullable=False),
            sa.Column("reason", sa.String(64)),
            sa.Column("field", sa.Text),
            sa.Column("client_id", sa.String(128)),
            sa.Column("arm", sa.String(16)),
            sa.Column("model_version", sa.String(16)),
            *(sa.Column(name, sa.Float) for name in FEATURE_COLUMNS),
            *(sa.Column(name, sa.String(32)) for name in BOROUGH_COLUMNS),
            sa.Column("prediction", sa.Float),
            sa.Column("latency_ms", sa.Float),
            sa.Column("actual_fare", sa.Float),
            sa.Column("feedback_at", sa.DateTime(timezone=True)),
        )
        op.create_index("ix_prediction_log_logged_at", "prediction_log", ["logged_at"])
    if "promotion_decisions" not in existing:
        op.create_table(
            "promotion_decisions",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("service", sa.String(16), nullable=False),
            sa.Column("model_name", sa.String(128), nullable=False),
            sa.Column("action", sa.String(16), nullable=False),
            sa.Column("challenger_version", sa.String(16)),
            sa.Column("champion_version", sa.String(16)),
            sa.Column("new_champion_version", sa.String(16)),
            sa.Column("reason", sa.Text, nullable=False),
            sa.Column("rules", sa.Text, nullable=False),
            sa.Column("challenger_metrics", sa.Text, nullable=False),
            sa.Column("champion_metrics", sa.Text, nullable=False),
            sa.Column("dagster_run_id", sa.String(64)),
        )
    if "alert_history" not in existing:
        op.create_table(
            "alert_history",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("severity", sa.String(16), nullable=False),
            sa.Column("kind", sa.String(32), nullable=False),
            sa.Column("service", sa.String(16), nullable=False),
            sa.Column("title", sa.Text, nullable=False),
            sa.Column("details", sa.Text, nullable=False),
            sa.Column("delivery", sa.Text, nullable=False),
        )
        op.create_index("ix_alert_history_raised_at", "alert_history", ["raised_at"])


def downgrade() -> None:
    """Drop the three tables (and every row in them)."""
    op.drop_table("alert_history")
    op.drop_table("promotion_decisions")
    op.drop_table("prediction_log")
