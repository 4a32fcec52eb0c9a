"""The platform database's tables as frames: incidents, alerts, decisions and the prediction log's health.

Read through the tables the platform declares (``taxi_assets``), newest first. No Streamlit here.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import sqlalchemy as sa

from taxi_assets.platform_db.prediction_log import PREDICTION_LOG, SHADOW_ARM
from taxi_assets.platform_db.records import ALERT_HISTORY, DECISIONS, INCIDENTS

LATENCY_QUANTILES: Final = (0.5, 0.95, 0.99)


def read_frame(url: str, query: sa.Select[Any]) -> pd.DataFrame:
    """A query's rows as a frame (an empty one when the platform database, or the table, does not exist yet).

    A SQLite file that is not there is not created: the dashboard only reads.
    """
    engine = sa.create_engine(url)
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database not in (None, "", ":memory:") and not Path(database).exists():
        return pd.DataFrame()
    try:
        with engine.connect() as connection:
            return pd.DataFrame(connection.execute(query).mappings().all())
    except (sa.exc.OperationalError, sa.exc.ProgrammingError):
        return pd.DataFrame()
    finally:
        engine.dispose()


def incidents(url: str, service: str) -> pd.DataFrame:
    """Every incident of ``service``, newest first; open ones have no ``resolved_at``."""
    query = sa.select(INCIDENTS).where(INCIDENTS.c.service == service).order_by(INCIDENTS.c.id.desc())
    return read_frame(url, query)


def alerts(url: str, service: str, limit: int = 1_000) -> pd.DataFrame:
    """The newest alerts of ``service`` (``details`` parsed), newest first."""
    query = (
        sa.select(ALERT_HISTORY)
        .where(ALERT_HISTORY.c.service == service)
        .order_by(ALERT_HISTORY.c.raised_at.desc(), ALERT_HISTORY.c.id.desc())
        .limit(limit)
    )
    frame = read_frame(url, query)
    if not frame.empty:
        frame["details"] = frame["details"].map(json.loads)
    return frame


def decisions(url: str, service: str) -> pd.DataFrame:
    """Every promotion decision and rollback of ``service`` (rules and metrics parsed), newest first."""
    query = sa.select(DECISIONS).where(DECISIONS.c.service == service).order_by(DECISIONS.c.id.desc())
    frame = read_frame(url, query)
    for column in ("rules", "challenger_metrics", "champion_metrics"):
        if not frame.empty:
            frame[column] = frame[column].map(json.loads)
    return frame


def service_health(url: str, service: str, since: datetime, bucket_minutes: int) -> pd.DataFrame:
    """Per time bucket since ``since``: requests, rejected, latency p50/p95/p99 of the served ones (ms).

    Read from the prediction log (the index on service, status and time serves it), not from a metrics store.
    """
    log = PREDICTION_LOG.c
    requests = sa.or_(log.arm.is_(None), log.arm != SHADOW_ARM)  # a shadow score is not a request
    query = sa.select(log.logged_at, log.status, log.latency_ms).where(
        log.service == service, log.logged_at >= since, requests
    )
    frame = read_frame(url, query)
    if frame.empty:
        return pd.DataFrame(columns=["bucket", "requests", "rejected", "p50_ms", "p95_ms", "p99_ms"])
    frame["bucket"] = pd.to_datetime(frame["logged_at"], utc=True).dt.floor(f"{bucket_minutes}min")
    frame["latency_ms"] = pd.to_numeric(frame["latency_ms"], errors="coerce")
    served = frame[frame["status"] == "ok"]
    counts = frame.groupby("bucket").agg(requests=("status", "size"))
    counts["rejected"] = frame[frame["status"] != "ok"].groupby("bucket").size()
    quantiles = served.groupby("bucket")["latency_ms"].quantile(np.asarray(LATENCY_QUANTILES)).unstack()
    quantiles.columns = [f"p{round(q * 100)}_ms" for q in LATENCY_QUANTILES]
    out = counts.join(quantiles).fillna({"rejected": 0}).reset_index()
    out["rejected"] = out["rejected"].astype(int)
    return out


def rejections(url: str, service: str, since: datetime) -> pd.DataFrame:
    """Rejected requests since ``since`` by reason and field, most frequent first."""
    log = PREDICTION_LOG.c
    query = (
        sa.select(log.reason, log.field, sa.func.count().label("requests"))
        .where(log.service == service, log.status != "ok", log.logged_at >= since)
        .group_by(log.reason, log.field)
        .order_by(sa.func.count().desc())
    )
    return read_frame(url, query)


def decision_that_made(decisions: pd.DataFrame, version: str | None) -> dict[str, Any] | None:
    """The newest decision that made ``version`` champion (a promotion or a rollback to it), else None."""
    if decisions.empty or not version:
        return None
    made = decisions[(decisions["new_champion_version"] == version) & decisions["action"].isin(["promote", "rollback"])]
    return record(made.iloc[0]) if not made.empty else None


def newest(frame: pd.DataFrame, column: str, value: str) -> dict[str, Any] | None:
    """The first (newest) row of a newest-first frame whose ``column`` is ``value``, else None."""
    if frame.empty:
        return None
    picked = frame[frame[column] == value]
    return record(picked.iloc[0]) if not picked.empty else None


def record(row: pd.Series) -> dict[str, Any]:
    """One row of a frame as a dict keyed by column name."""
    return {str(key): value for key, value in row.items()}


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame's rows as dicts keyed by column name."""
    return [record(row) for _, row in frame.iterrows()]
