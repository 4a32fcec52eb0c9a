"""What the "Why and for whom" screen reads: a logged fare explained, both models per segment, a version's card.

A logged prediction is explained as the API explains it (``taxi_assets.model.reasons``) by the version that
served it, loaded from MLflow. The side by side of champion and challenger per segment is the newest promotion
decision's segment gate (``registry.segment_gate``): both models on the same holdout rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa

from taxi_assets.features.columns import FEATURES, INTEGER_FEATURES
from taxi_assets.model.reasons import WhyThisFare, why_this_fare
from taxi_assets.model.versions import ModelRegistry, model_name
from taxi_assets.platform_db.prediction_log import PREDICTION_LOG


@dataclass(frozen=True)
class ExplainedFare:
    """One logged prediction, the version that priced it, and why."""

    request_id: str
    version: str
    fare: float
    trip: dict[str, Any]
    why: WhyThisFare


def explain_logged(database_url: str, tracking_uri: str, service: str, request_id: str) -> ExplainedFare | str:
    """The logged prediction ``request_id`` explained by its version, or what stops it, in words."""
    table = PREDICTION_LOG
    columns = [table.c.model_version, table.c.prediction, *(table.c[name] for name in FEATURES)]
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            row = connection.execute(sa.select(*columns).where(table.c.request_id == request_id)).first()
    finally:
        engine.dispose()
    if row is None:
        return f"No logged prediction has the request id {request_id!r}."
    if row.prediction is None or row.model_version is None:
        return f"Request {request_id!r} was refused: no fare was returned to explain."
    trip = {name: row._mapping[name] for name in FEATURES}
    for name in INTEGER_FEATURES:
        trip[name] = int(trip[name]) if isinstance(trip[name], float) and trip[name].is_integer() else trip[name]
    wrapper = ModelRegistry(tracking_uri).load_pyfunc(model_name(service), str(row.model_version))
    if wrapper.explainer is None or wrapper.model is None:
        version = row.model_version
        return f"Version {version} cannot explain its fares: it was registered before versions carried their trees."
    why = why_this_fare(wrapper.model, wrapper.explainer, trip, float(row.prediction))
    return ExplainedFare(request_id, str(row.model_version), float(row.prediction), trip, why)


def contribution_table(explained: ExplainedFare) -> pd.DataFrame:
    """Each feature with its value and what it added to the fare, the largest first."""
    rows = [
        {"feature": name, "value": str(explained.trip.get(name)), "added $": value}
        for name, value in explained.why.contributions.items()
    ]
    table = pd.DataFrame(rows)
    return table.reindex(table["added $"].abs().sort_values(ascending=False).index).reset_index(drop=True)


def segment_comparison(decisions: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame] | None:
    """The newest decision that compared two versions segment by segment, and its table; None before one."""
    if decisions.empty:
        return None
    gated = decisions[decisions["rules"].map(_gated)]
    if gated.empty:
        return None
    newest = gated.iloc[0]  # the decisions come newest first
    rows = pd.DataFrame(newest["rules"]["segments"].get("segments", []))
    if rows.empty:
        return newest, rows
    rows["blocked"] = rows["blocked_by"].map(lambda found: ", ".join(found) or "")
    table = rows[
        ["segment", "value", "rows", "champion_mae", "challenger_mae", "mae_difference", "mae_difference_low",
         "mae_difference_high", "champion_gap", "challenger_gap", "blocked"]
    ].rename(
        columns={
            "rows": "trips",
            "champion_mae": "champion error $",
            "challenger_mae": "challenger error $",
            "mae_difference": "difference $",
            "mae_difference_low": "95 % low",
            "mae_difference_high": "95 % high",
            "champion_gap": "champion over-charge $",
            "challenger_gap": "challenger over-charge $",
        }
    )  # fmt: skip
    return newest, table


def _gated(rules: dict[str, Any]) -> bool:
    """Whether a decision's rules hold a segment gate's verdict (a live decision's segments do not)."""
    found = rules.get("segments")
    return isinstance(found, dict) and "passed" in found


def card_body(card: str) -> str:
    """A card's words without its front matter (the facts are above them, for programs)."""
    if card.startswith("---\n") and "\n---\n" in card[4:]:
        return card[card.index("\n---\n", 4) + 5 :].lstrip()
    return card
