"""Indexes for the monitoring queries.

- ``drift_report`` reads a time window of served rows and counts the rejected ones in it:
  ``(status, logged_at)`` answers both from the index.
- ``labelled_traffic`` and the accuracy check read the rows whose true fare has arrived, since a time:
  a partial index on ``logged_at`` over only those rows stays small while most traffic waits for feedback.
- ``/feedback`` finds its row by ``request_id``: the unique constraint of revision 0001 already indexes it.
- Decisions and alerts are read per service, newest first.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LABELLED = sa.text("actual_fare IS NOT NULL")


def upgrade() -> None:
    """Create the four indexes."""
    op.create_index("ix_prediction_log_status_logged_at", "prediction_log", ["status", "logged_at"])
    op.create_index(
        "ix_prediction_log_labelled_logged_at",
        "prediction_log",
        ["logged_at"],
        postgresql_where=LABELLED,
        sqlite_where=LABELLED,
    )
    op.create_index("ix_promotion_decisions_service_decided_at", "promotion_decisions", ["service", "decided_at"])
    op.create_index("ix_alert_history_service_raised_at", "alert_history", ["service", "raised_at"])


def downgrade() -> None:
    """Drop the four indexes."""
    op.drop_index("ix_alert_history_service_raised_at", table_name="alert_history")
    op.drop_index("ix_promotion_decisions_service_decided_at", table_name="promotion_decisions")
    op.drop_index("ix_prediction_log_labelled_logged_at", table_name="prediction_log")
    op.drop_index("ix_prediction_log_status_logged_at", table_name="prediction_log")
