"""Incidents: one row per run of failing windows of one check of one service.

While a check keeps failing, the incident's last window moves on and no new alert is sent; the first passing
window after it resolves the incident.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``monitoring_incidents``."""
    op.create_table(
        "monitoring_incidents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("service", sa.String(16), nullable=False),
        sa.Column("check_name", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("model_version", sa.String(32), nullable=False),
        sa.Column("first_window", sa.String(32), nullable=False),
        sa.Column("last_window", sa.String(32), nullable=False),
        sa.Column("failed_windows", sa.Integer, nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_window", sa.String(32)),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_monitoring_incidents_open", "monitoring_incidents", ["service", "check_name", "resolved_at"])


def downgrade() -> None:
    """Drop the incidents (their rows with them)."""
    op.drop_index("ix_monitoring_incidents_open", table_name="monitoring_incidents")
    op.drop_table("monitoring_incidents")
