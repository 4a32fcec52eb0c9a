"""Champion against challenger on live traffic: the shadow pairs and the A/B arms, from the prediction log.

In shadow mode the API answers with the champion and scores the challenger on the same request, logged as
``<request_id>-shadow`` with arm ``shadow``; the true fare arrives later and joins the champion's row. A shadow
pair is one trip both models scored, with its fare: the paired comparison the sequential test reads
(``sequential.py``). In A/B mode each request is answered by one arm; the arms are compared as two samples.

``shadow_pairs_query`` reads the pairs in SQL (a self-join on the request id); the rest is pure.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from taxi_assets.model.evaluation import Z_95
from taxi_assets.model.holdout import SEGMENTS, segment_keys
from taxi_assets.platform_db.prediction_log import (
    CHALLENGER_ARM,
    CHAMPION_ARM,
    PREDICTION_LOG,
    SHADOW_ARM,
    SHADOW_SUFFIX,
)
from taxi_assets.platform_db.schema import ensure_schema
from taxi_assets.registry.sequential import Evidence, SequentialRule, Verdict, first_decision, judge


def shadow_pairs_query(
    service: str, challenger_version: str, since: datetime, champion_version: str | None = None
) -> sa.Select[Any]:
    """The shadow pairs of ``challenger_version`` on ``service`` since ``since``, in the order their fares arrived.

    Trips the champion (``champion_version`` when given) answered and the challenger scored in shadow, whose true
    fare has arrived. Label order makes the sequence append-only: a reading later sees the same pairs first.
    """
    served, shadow = PREDICTION_LOG.alias("served"), PREDICTION_LOG.alias("shadow")
    joined = served.join(shadow, shadow.c.request_id == served.c.request_id + SHADOW_SUFFIX)
    conditions = [
        served.c.service == service,
        served.c.status == "ok",
        served.c.arm != SHADOW_ARM,
        served.c.actual_fare.is_not(None),
        served.c.logged_at >= since,
        shadow.c.arm == SHADOW_ARM,
        shadow.c.model_version == challenger_version,
    ]
    if champion_version is not None:
        conditions.append(served.c.model_version == champion_version)
    return (
        sa.select(
            served.c.request_id,
            served.c.logged_at,
            served.c.model_version.label("champion_version"),
            shadow.c.model_version.label("challenger_version"),
            served.c.prediction.label("champion_prediction"),
            shadow.c.prediction.label("challenger_prediction"),
            served.c.actual_fare,
            *(served.c[segment] for segment in SEGMENTS),
        )
        .select_from(joined)
        .where(*conditions)
        .order_by(served.c.feedback_at, served.c.id)
    )


def ab_rows_query(service: str, champion_version: str, challenger_version: str, since: datetime) -> sa.Select[Any]:
    """The labelled requests each A/B arm answered since ``since``, in the order their fares arrived."""
    table = PREDICTION_LOG
    return (
        sa.select(table.c.arm, table.c.prediction, table.c.actual_fare, *(table.c[s] for s in SEGMENTS))
        .where(
            table.c.service == service,
            table.c.status == "ok",
            table.c.actual_fare.is_not(None),
            table.c.logged_at >= since,
            sa.or_(
                sa.and_(table.c.arm == CHAMPION_ARM, table.c.model_version == champion_version),
                sa.and_(table.c.arm == CHALLENGER_ARM, table.c.model_version == challenger_version),
            ),
        )
        .order_by(table.c.feedback_at, table.c.id)
    )


@contextmanager
def _connection(url: str) -> Iterator[sa.Connection]:
    """A connection to the platform database (migrated first, as every reader of the log does)."""
    engine = sa.create_engine(url)
    try:
        ensure_schema(engine)
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def read_frame(url: str, query: sa.Select[Any]) -> pd.DataFrame:
    """A query's rows as a frame."""
    with _connection(url) as connection:
        return pd.read_sql(query, connection)


def read_shadow_pairs(url: str, service: str, challenger_version: str, since: datetime) -> pd.DataFrame:
    """The shadow pairs of ``shadow_pairs_query`` as a frame."""
    return read_frame(url, shadow_pairs_query(service, challenger_version, since))


def squared_error_differences(pairs: pd.DataFrame) -> np.ndarray:
    """Per trip, the champion's squared error minus the challenger's: positive where the challenger did better."""
    return _squared_errors(pairs, "champion_prediction") - _squared_errors(pairs, "challenger_prediction")


@dataclass(frozen=True)
class ArmComparison:
    """Two sets of losses compared: their sizes, the mean difference (first minus second) and its 95 % interval."""

    labels: int
    mean_difference: float
    low: float
    high: float


def paired_comparison(differences: np.ndarray) -> ArmComparison:
    """The mean of paired differences with its normal 95 % interval (fixed-sample: for reading, not deciding)."""
    n = differences.size
    if n < 2:
        return ArmComparison(n, float(np.mean(differences)) if n else float("nan"), float("nan"), float("nan"))
    mean = float(differences.mean())
    half = Z_95 * float(differences.std(ddof=1)) / np.sqrt(n)
    return ArmComparison(n, mean, mean - half, mean + half)


def two_sample_comparison(first: np.ndarray, second: np.ndarray) -> ArmComparison:
    """Welch's comparison of two arms' losses (A/B: each trip answered by one arm), with a normal 95 % interval."""
    if first.size < 2 or second.size < 2:
        return ArmComparison(first.size + second.size, float("nan"), float("nan"), float("nan"))
    mean = float(first.mean() - second.mean())
    half = Z_95 * float(np.sqrt(first.var(ddof=1) / first.size + second.var(ddof=1) / second.size))
    return ArmComparison(first.size + second.size, mean, mean - half, mean + half)


@dataclass(frozen=True)
class LiveEvaluation:
    """One challenger against the champion on live traffic.

    The sequential verdict, each side's labels and RMSE, the fixed-sample comparison of their squared errors
    (champion minus challenger, with its 95 % interval) overall and per segment.
    """

    verdict: Verdict
    champion_rmse: float
    challenger_rmse: float
    champion_labels: int
    challenger_labels: int
    overall: ArmComparison
    by_segment: dict[str, dict[str, ArmComparison]]


def _rmse(losses: np.ndarray) -> float:
    return float(np.sqrt(np.mean(losses))) if losses.size else float("nan")


def _squared_errors(frame: pd.DataFrame, prediction: str) -> np.ndarray:
    return np.square(frame[prediction].to_numpy(dtype=np.float64) - frame["actual_fare"].to_numpy(dtype=np.float64))


def evaluate_shadow(pairs: pd.DataFrame, rule: SequentialRule) -> LiveEvaluation:
    """The sequential test on the pairs in label order, and the paired comparisons overall and per segment."""
    differences = squared_error_differences(pairs)
    verdict = first_decision(differences, rule) if differences.size else judge(Evidence(), rule)
    by_segment: dict[str, dict[str, ArmComparison]] = {}
    for segment in SEGMENTS:
        keys = segment_keys(pairs[segment].to_numpy())
        by_segment[segment] = {
            value: paired_comparison(differences[keys == value]) for value in sorted(set(keys.tolist()))
        }
    champion = _squared_errors(pairs, "champion_prediction")
    challenger = _squared_errors(pairs, "challenger_prediction")
    return LiveEvaluation(
        verdict, _rmse(champion), _rmse(challenger), len(pairs), len(pairs), paired_comparison(differences), by_segment
    )


def evaluate_ab(rows: pd.DataFrame, rule: SequentialRule) -> LiveEvaluation:
    """The arms of an A/B split compared: the sequential test, and Welch's comparison overall and per segment.

    The sequential test reads the arms' losses paired in label order (the i-th labelled champion request with
    the i-th labelled challenger request): with clients assigned to arms at random, each such difference has
    the mean of the arms' difference, so the same always-valid test applies. It uses as many labels as the
    smaller arm has; the fixed-sample comparisons use every labelled request.
    """
    losses = _squared_errors(rows, "prediction")
    arms = rows["arm"].to_numpy()
    champion, challenger = losses[arms == CHAMPION_ARM], losses[arms == CHALLENGER_ARM]
    paired = min(champion.size, challenger.size)
    differences = champion[:paired] - challenger[:paired]
    verdict = first_decision(differences, rule) if paired else judge(Evidence(), rule)
    by_segment: dict[str, dict[str, ArmComparison]] = {}
    for segment in SEGMENTS:
        keys = segment_keys(rows[segment].to_numpy())
        by_segment[segment] = {
            value: two_sample_comparison(
                losses[(keys == value) & (arms == CHAMPION_ARM)], losses[(keys == value) & (arms == CHALLENGER_ARM)]
            )
            for value in sorted(set(keys.tolist()))
        }
    return LiveEvaluation(
        verdict,
        _rmse(champion),
        _rmse(challenger),
        int(champion.size),
        int(challenger.size),
        two_sample_comparison(champion, challenger),
        by_segment,
    )


@dataclass(frozen=True)
class StageTraffic:
    """Since a stage began: the requests the champion answered, and those the challenger scored or answered."""

    champion_requests: int
    challenger_requests: int


def stage_traffic(url: str, service: str, champion: str, challenger: str, arm: str, since: datetime) -> StageTraffic:
    """How much of the traffic since ``since`` each side saw: ``arm`` is the challenger's (shadow or challenger)."""
    table = PREDICTION_LOG
    # filtered aggregates: one scan for both counts
    query = sa.select(
        sa.func.count().filter(sa.and_(table.c.arm == CHAMPION_ARM, table.c.model_version == champion)),
        sa.func.count().filter(sa.and_(table.c.arm == arm, table.c.model_version == challenger)),
    ).where(table.c.service == service, table.c.status == "ok", table.c.logged_at >= since)
    with _connection(url) as connection:
        champion_requests, challenger_requests = connection.execute(query).one()
    return StageTraffic(int(champion_requests), int(challenger_requests))


def labels_since(url: str, service: str, since: datetime) -> int:
    """How many served requests of ``service`` logged since ``since`` have their true fare."""
    table = PREDICTION_LOG
    query = sa.select(sa.func.count()).where(
        table.c.service == service,
        table.c.arm != SHADOW_ARM,
        table.c.actual_fare.is_not(None),
        table.c.logged_at >= since,
    )
    with _connection(url) as connection:
        return int(connection.execute(query).scalar_one())
