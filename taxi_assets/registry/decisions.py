"""The ``promotion_decisions`` table: every promote, reject and rollback, with its evidence.

SQLite under the data home by default; any SQLAlchemy URL (``postgresql+psycopg2://...``) when configured.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from taxi_assets.platform_db.records import DECISIONS
from taxi_assets.platform_db.schema import ensure_schema


@dataclass(frozen=True)
class DecisionRecord:
    """One decision as stored: who was compared, the rule results, the outcome and why."""

    service: str
    model_name: str
    action: str
    reason: str
    challenger_version: str | None
    champion_version: str | None
    new_champion_version: str | None
    rules: dict[str, Any] = field(default_factory=dict)
    challenger_metrics: dict[str, Any] = field(default_factory=dict)
    champion_metrics: dict[str, Any] = field(default_factory=dict)
    dagster_run_id: str | None = None
    decided_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class DecisionStore:
    """Appends and reads decision records; migrates the platform database on first use."""

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url, future=True)
        ensure_schema(self.engine)

    def record(self, decision: DecisionRecord) -> int:
        """Append a decision; return its id."""
        row = {
            "decided_at": decision.decided_at,
            "service": decision.service,
            "model_name": decision.model_name,
            "action": decision.action,
            "challenger_version": decision.challenger_version,
            "champion_version": decision.champion_version,
            "new_champion_version": decision.new_champion_version,
            "reason": decision.reason,
            "rules": json.dumps(decision.rules, sort_keys=True, default=str),
            "challenger_metrics": json.dumps(decision.challenger_metrics, sort_keys=True, default=str),
            "champion_metrics": json.dumps(decision.champion_metrics, sort_keys=True, default=str),
            "dagster_run_id": decision.dagster_run_id,
        }
        with self.engine.begin() as connection:
            result = connection.execute(DECISIONS.insert().values(**row))
            key = result.inserted_primary_key
            return int(key[0]) if key else -1

    def history(self, service: str) -> list[DecisionRecord]:
        """A service's decisions, oldest first."""
        query = sa.select(DECISIONS).where(DECISIONS.c.service == service).order_by(DECISIONS.c.id)
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [
            DecisionRecord(
                service=row["service"],
                model_name=row["model_name"],
                action=row["action"],
                reason=row["reason"],
                challenger_version=row["challenger_version"],
                champion_version=row["champion_version"],
                new_champion_version=row["new_champion_version"],
                rules=json.loads(row["rules"]),
                challenger_metrics=json.loads(row["challenger_metrics"]),
                champion_metrics=json.loads(row["champion_metrics"]),
                dagster_run_id=row["dagster_run_id"],
                decided_at=row["decided_at"],
            )
            for row in rows
        ]

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()
