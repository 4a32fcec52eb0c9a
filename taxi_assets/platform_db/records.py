"""The platform's records: promotion decisions, monitoring incidents and the alert history.

Each table is written by one module (``registry.decisions``, ``monitoring.incidents``, ``alerting``) and read by
the dashboard; all of them are declared here, on the one ``METADATA``, so the migrations and their test see every
table in one place.
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa

from taxi_assets.platform_db.schema import METADATA

# every promote, reject, rollback and live step, with its evidence
DECISIONS: Final = sa.Table(
    "promotion_decisions",
    METADATA,
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
    sa.Index("ix_promotion_decisions_service_decided_at", "service", "decided_at"),
)

# one row per incident: the windows in a row in which one check of one service failed
INCIDENTS: Final = sa.Table(
    "monitoring_incidents",
    METADATA,
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
    sa.Index("ix_monitoring_incidents_open", "service", "check_name", "resolved_at"),
)

# every alert raised, with what each sink made of it
ALERT_HISTORY: Final = sa.Table(
    "alert_history",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("service", sa.String(16), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("delivery", sa.Text, nullable=False),
    sa.Index("ix_alert_history_service_raised_at", "service", "raised_at"),
)
