"""The ``prediction_log`` table, shared by the API (which writes it) and monitoring (which reads windows of it).

One row per prediction or rejected request; ``actual_fare`` arrives later through ``/feedback``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import pandas as pd
import sqlalchemy as sa

from taxi_assets.modeling.features import FEATURES

METADATA: Final = sa.MetaData()
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
)
LOG_COLUMNS: Final = tuple(column.name for column in PREDICTION_LOG.columns if column.name != "id")
# One row in LOG_COLUMNS order; datetimes as text ("YYYY-MM-DD HH:MM:SS.ffffff+00:00"), read by both databases.
LogRow = tuple[Any, ...]
SHADOW_ARM: Final = "shadow"


@dataclass(frozen=True)
class LogWindow:
    """The served (non-shadow) predictions of a window and the number of requests rejected in it."""

    served: pd.DataFrame
    rejected: int


def read_window(url: str, start: datetime, end: datetime) -> LogWindow:
    """Rows logged in ``[start, end)``: served predictions (features, prediction, actual fare) and rejections."""
    table = PREDICTION_LOG
    columns = [table.c.request_id, table.c.model_version, table.c.arm, *(table.c[n] for n in FEATURES)]
    columns += [table.c.prediction, table.c.actual_fare]
    in_window = sa.and_(table.c.logged_at >= start, table.c.logged_at < end)
    engine = sa.create_engine(url)
    try:
        METADATA.create_all(engine)
        with engine.connect() as connection:
            served = pd.read_sql(
                sa.select(*columns).where(in_window, table.c.status == "ok", table.c.arm != SHADOW_ARM), connection
            )
            rejected = connection.execute(
                sa.select(sa.func.count()).select_from(table).where(in_window, table.c.status == "rejected")
            ).scalar_one()
    finally:
        engine.dispose()
    return LogWindow(served=served, rejected=int(rejected))


LABELLED_AT: Final = "logged_at"


def read_labelled(url: str, since: datetime, until: datetime | None = None) -> pd.DataFrame:
    """Served (non-shadow) rows logged in ``[since, until)`` whose true fare has arrived, oldest first.

    Columns: ``request_id``, ``logged_at`` (UTC, naive), the features, ``prediction`` and ``actual_fare``.
    """
    table = PREDICTION_LOG
    columns = [table.c.request_id, table.c.logged_at, *(table.c[n] for n in FEATURES)]
    columns += [table.c.prediction, table.c.actual_fare]
    conditions = [table.c.logged_at >= since, table.c.status == "ok", table.c.arm != SHADOW_ARM]
    conditions.append(table.c.actual_fare.is_not(None))
    if until is not None:
        conditions.append(table.c.logged_at < until)
    engine = sa.create_engine(url)
    try:
        METADATA.create_all(engine)
        with engine.connect() as connection:
            frame = pd.read_sql(
                sa.select(*columns).where(*conditions).order_by(table.c.logged_at, table.c.id), connection
            )
    finally:
        engine.dispose()
    logged = pd.to_datetime(frame[LABELLED_AT], utc=True, format="ISO8601")
    frame[LABELLED_AT] = logged.dt.tz_convert(None).astype("datetime64[us]")
    return frame
