"""Quarantine for prediction log records the database refuses.

The API's log writer ships journal records in batches; a record the database refuses (a value too long for
its column, a character PostgreSQL cannot store, an unreadable journal line) is stored here with the reason,
so it never blocks the healthy rows of its batch or the records behind it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``prediction_log_quarantine``."""
    op.create_table(
        "prediction_log_quarantine",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("service", sa.String(16)),
        sa.Column("request_id", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("record", sa.Text, nullable=False),
    )
    op.create_index("ix_prediction_log_quarantine_quarantined_at", "prediction_log_quarantine", ["quarantined_at"])


def downgrade() -> None:
    """Drop the quarantine (its rows with it)."""
    op.drop_index("ix_prediction_log_quarantine_quarantined_at", table_name="prediction_log_quarantine")
    op.drop_table("prediction_log_quarantine")
