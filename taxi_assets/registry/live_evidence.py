"""Champion against challenger on live traffic: the shadow pairs and the A/B arms, from the prediction log.

In shadow mode the API answers with the champion and scores the challenger on the same request, logged as
``<request_id>-shadow`` with arm ``shadow``; the true fare arrives later and joins the champion's row. A shadow
pair is one trip both models scored, with its fare: the paired comparison the sequential test reads
(``sequential.py``). In A/B mode each request is answered by one arm; the arms are compared as two samples.

``shadow_pairs_query`` reads the pairs in SQL (a self-join on the request id); the rest is pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import numpy as np
import pandas as pd
import sqlalchemy as sa

from taxi_assets.monitoring.accuracy import SEGMENTS, Z_95, segment_keys
from taxi_assets.platform_db.prediction_log import PREDICTION_LOG, SHADOW_ARM
from taxi_assets.registry.sequential import Evidence, SequentialRule, Verdict, judge

SHADOW_SUFFIX: Final = "-shadow"


def shadow_pairs_query(service: str, challenger_version: str, since: datetime) -> sa.Select[Any]:
    """The shadow pairs of ``challenger_version`` on ``service`` since ``since``, oldest first.

    Trips the champion answered and the challenger scored in shadow, whose true fare has arrived.
    """
    served, shadow = PREDICTION_LOG.alias("served"), PREDICTION_LOG.alias("shadow")
    joined = served.join(shadow, shadow.c.request_id == served.c.request_id + SHADOW_SUFFIX)
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
        .where(
            served.c.service == service,
            served.c.status == "ok",
            served.c.arm != SHADOW_ARM,
            served.c.actual_fare.is_not(None),
            served.c.logged_at >= since,
            shadow.c.arm == SHADOW_ARM,
            shadow.c.model_version == challenger_version,
        )
        .order_by(served.c.logged_at, served.c.id)
    )


def read_shadow_pairs(url: str, service: str, challenger_version: str, since: datetime) -> pd.DataFrame:
    """The shadow pairs of ``shadow_pairs_query`` as a frame."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return pd.read_sql(shadow_pairs_query(service, challenger_version, since), connection)
    finally:
        engine.dispose()


def squared_error_differences(pairs: pd.DataFrame) -> np.ndarray:
    """Per trip, the champion's squared error minus the challenger's: positive where the challenger did better."""
    actual = pairs["actual_fare"].to_numpy(dtype=np.float64)
    champion = pairs["champion_prediction"].to_numpy(dtype=np.float64) - actual
    challenger = pairs["challenger_prediction"].to_numpy(dtype=np.float64) - actual
    return np.square(champion) - np.square(challenger)


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
    """The shadow comparison of one challenger: the sequential verdict, and the paired comparison per segment."""

    verdict: Verdict
    champion_rmse: float
    challenger_rmse: float
    by_segment: dict[str, dict[str, ArmComparison]]


def evaluate_shadow(pairs: pd.DataFrame, rule: SequentialRule) -> LiveEvaluation:
    """The sequential test on the pairs in the order they were logged, and the per-segment comparisons."""
    differences = squared_error_differences(pairs)
    verdict = judge(Evidence().add(differences), rule)
    actual = pairs["actual_fare"].to_numpy(dtype=np.float64)
    rmse = {
        arm: float(np.sqrt(np.mean(np.square(pairs[f"{arm}_prediction"].to_numpy(dtype=np.float64) - actual))))
        if len(pairs)
        else float("nan")
        for arm in ("champion", "challenger")
    }
    by_segment: dict[str, dict[str, ArmComparison]] = {}
    for segment in SEGMENTS:
        if segment not in pairs:
            continue
        keys = segment_keys(pairs[segment].to_numpy())
        by_segment[segment] = {
            value: paired_comparison(differences[keys == value]) for value in sorted(set(keys.tolist()))
        }
    return LiveEvaluation(verdict, rmse["champion"], rmse["challenger"], by_segment)
