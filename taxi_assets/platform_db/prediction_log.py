"""The ``prediction_log`` table, shared by the API (which writes it) and monitoring (which reads windows of it).

One row per prediction or rejected request; ``actual_fare`` arrives later through ``/feedback``. ``service`` is the
TLC service of the API that logged it (migration 0003): green and yellow APIs may share one database, and monitoring
reads one service at a time. Rows logged before 0003 have none and belong to no service's window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import pandas as pd
import sqlalchemy as sa

from taxi_assets.features.columns import FEATURES
from taxi_assets.platform_db.schema import METADATA, ensure_schema

# rows whose true fare has arrived: the partial index covers only these
LABELLED_PREDICATE: Final = "actual_fare IS NOT NULL"
PREDICTION_LOG: Final = sa.Table(
    "prediction_log",
    METADATA,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(64), nullable=False, unique=True),
    sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("endpoint", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("reason", sa.String(64)),
    sa.Column("field", sa.Text),
    sa.Column("client_id", sa.String(128)),
    sa.Column("arm", sa.String(16)),
    sa.Column("model_version", sa.String(16)),
    *(sa.Column(name, sa.String(32) if name.endswith("borough") else sa.Float) for name in FEATURES),
    sa.Column("prediction", sa.Float),
    sa.Column("latency_ms", sa.Float),
    sa.Column("actual_fare", sa.Float),
    sa.Column("feedback_at", sa.DateTime(timezone=True)),
    sa.Column("service", sa.String(16)),
    # the monitoring queries (migration 0003): a window of one service by status, and one service's labelled rows
    # since a time (a partial index over the labelled rows only: most traffic waits for its feedback)
    sa.Index("ix_prediction_log_service_status_logged_at", "service", "status", "logged_at"),
    sa.Index(
        "ix_prediction_log_labelled_service_logged_at",
        "service",
        "logged_at",
        postgresql_where=sa.text(LABELLED_PREDICATE),
        sqlite_where=sa.text(LABELLED_PREDICATE),
    ),
)
# Records the database refused (a constraint, a type) or that could not be read back from a journal (migration
# 0004): kept with the reason instead of blocking the rows behind them; ``record`` is the journal line as text.
PREDICTION_LOG_QUARANTINE: Final = sa.Table(
    "prediction_log_quarantine",
    METADATA,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("service", sa.String(16)),
    sa.Column("request_id", sa.Text),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("record", sa.Text, nullable=False),
)
LOG_COLUMNS: Final = tuple(column.name for column in PREDICTION_LOG.columns if column.name != "id")
# One row in LOG_COLUMNS order; datetimes as text ("YYYY-MM-DD HH:MM:SS.ffffff+00:00"), read by both databases.
LogRow = tuple[Any, ...]
# the arm of a row: the model that answered (A/B splits clients between two), or a challenger scored in shadow
CHAMPION_ARM: Final = "champion"
CHALLENGER_ARM: Final = "challenger"
SHADOW_ARM: Final = "shadow"
# a shadow score is logged under the request id of the answer it shadows, with this suffix
SHADOW_SUFFIX: Final = "-shadow"


@dataclass(frozen=True)
class LogWindow:
    """The served (non-shadow) predictions of a window and the number of requests rejected in it."""

    served: pd.DataFrame
    rejected: int


def served_query(start: datetime, end: datetime, service: str) -> sa.Select[Any]:
    """Served (non-shadow) predictions of ``service`` logged in ``[start, end)``: features, prediction, fare."""
    table = PREDICTION_LOG
    columns = [table.c.request_id, table.c.logged_at, table.c.model_version, table.c.arm]
    columns += [*(table.c[n] for n in FEATURES), table.c.prediction, table.c.actual_fare]
    return sa.select(*columns).where(
        table.c.service == service,
        table.c.status == "ok",
        table.c.logged_at >= start,
        table.c.logged_at < end,
        table.c.arm != SHADOW_ARM,
    )


def rejected_count_query(start: datetime, end: datetime, service: str) -> sa.Select[Any]:
    """How many requests to ``service`` were rejected in ``[start, end)``."""
    table = PREDICTION_LOG
    in_window = sa.and_(
        table.c.service == service,
        table.c.status == "rejected",
        table.c.logged_at >= start,
        table.c.logged_at < end,
    )
    return sa.select(sa.func.count()).select_from(table).where(in_window)


def read_window(url: str, start: datetime, end: datetime, service: str) -> LogWindow:
    """Rows of ``service`` logged in ``[start, end)``: served predictions and the count of rejections."""
    engine = sa.create_engine(url)
    try:
        ensure_schema(engine)
        with engine.connect() as connection:
            served = pd.read_sql(served_query(start, end, service), connection)
            rejected = connection.execute(rejected_count_query(start, end, service)).scalar_one()
    finally:
        engine.dispose()
    return LogWindow(served=served, rejected=int(rejected))


LABELLED_AT: Final = "logged_at"


def read_labelled(url: str, service: str, since: datetime, until: datetime | None = None) -> pd.DataFrame:
    """Served (non-shadow) rows of ``service`` logged in ``[since, until)`` whose true fare has arrived, oldest first.

    Columns: ``request_id``, ``logged_at`` (UTC, naive), ``model_version``, the features, ``prediction`` and
    ``actual_fare``.
    """
    engine = sa.create_engine(url)
    try:
        ensure_schema(engine)
        with engine.connect() as connection:
            frame = pd.read_sql(labelled_query(service, since, until), connection)
    finally:
        engine.dispose()
    logged = pd.to_datetime(frame[LABELLED_AT], utc=True, format="ISO8601")
    frame[LABELLED_AT] = logged.dt.tz_convert(None).astype("datetime64[us]")
    return frame


def labelled_query(service: str, since: datetime, until: datetime | None = None) -> sa.Select[Any]:
    """Served (non-shadow) rows of ``service`` logged in ``[since, until)`` with their true fare, oldest first."""
    table = PREDICTION_LOG
    columns = [table.c.request_id, table.c.logged_at, table.c.model_version, *(table.c[n] for n in FEATURES)]
    columns += [table.c.prediction, table.c.actual_fare]
    # "actual_fare IS NOT NULL" spelled as the partial index's predicate, so the planner can use that index
    conditions = [table.c.actual_fare.is_not(None), table.c.logged_at >= since]
    conditions += [table.c.status == "ok", table.c.arm != SHADOW_ARM, table.c.service == service]
    if until is not None:
        conditions.append(table.c.logged_at < until)
    return sa.select(*columns).where(*conditions).order_by(table.c.logged_at, table.c.id)


@dataclass(frozen=True)
class LogActivity:
    """What the prediction log received since a time: rows and the newest row's time, per service."""

    rows: dict[str, int]
    newest: dict[str, datetime]

    @property
    def data_version(self) -> str:
        """A version that changes whenever a row arrives: rows and newest time per service."""
        return ";".join(f"{s}:{self.rows[s]}@{self.newest[s].isoformat()}" for s in sorted(self.rows)) or "empty"


def log_activity(url: str, since: datetime, until: datetime | None = None) -> LogActivity:
    """Rows logged in ``[since, until)`` (served, rejected, shadow) and the newest ``logged_at``, per service."""
    table = PREDICTION_LOG
    query = sa.select(table.c.service, sa.func.count(), sa.func.max(table.c.logged_at)).where(
        table.c.logged_at >= since
    )
    if until is not None:
        query = query.where(table.c.logged_at < until)
    query = query.group_by(table.c.service)
    engine = sa.create_engine(url)
    try:
        ensure_schema(engine)
        with engine.connect() as connection:
            found = list(connection.execute(query))
    finally:
        engine.dispose()
    rows = {str(service): int(count) for service, count, _ in found}
    return LogActivity(rows, {str(service): _utc(newest) for service, _, newest in found})


def _utc(value: datetime | str) -> datetime:
    """A stored time as an aware UTC datetime (SQLite hands back the stored text)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
