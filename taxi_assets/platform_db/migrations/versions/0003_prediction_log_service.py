"""The service of each logged row, and the monitoring indexes by service.

A green and a yellow API may share one platform database; monitoring judges one service at a time, so
``prediction_log`` records the service of the API that logged each row, and the two monitoring indexes of
revision 0002 on the log lead with it. Rows logged before this revision keep no service.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LABELLED = sa.text("actual_fare IS NOT NULL")


def upgrade() -> None:
    """Add ``service``; re-create the two log indexes with it in front."""
    with op.batch_alter_table("prediction_log") as batch:
        batch.add_column(sa.Column("service", sa.String(16)))
    op.drop_index("ix_prediction_log_status_logged_at", table_name="prediction_log")
    op.drop_index("ix_prediction_log_labelled_logged_at", table_name="prediction_log")
    op.create_index("ix_prediction_log_service_status_logged_at", "prediction_log", ["service", "status", "logged_at"])
    op.create_index(
        "ix_prediction_log_labelled_service_logged_at",
        "prediction_log",
        ["service", "logged_at"],
        postgresql_where=LABELLED,
        sqlite_where=LABELLED,
    )


def downgrade() -> None:
    """Back to revision 0002's indexes, without ``service``."""
    op.drop_index("ix_prediction_log_labelled_service_logged_at", table_name="prediction_log")
    op.drop_index("ix_prediction_log_service_status_logged_at", table_name="prediction_log")
    # before the partial index exists again: SQLite drops a column by copying the table, indexes included
    with op.batch_alter_table("prediction_log") as batch:
        batch.drop_column("service")
    op.create_index(
        "ix_prediction_log_labelled_logged_at",
        "prediction_log",
        ["logged_at"],
        postgresql_where=LABELLED,
        sqlite_where=LABELLED,
    )
    op.create_index("ix_prediction_log_status_logged_at", "prediction_log", ["status", "logged_at"])
