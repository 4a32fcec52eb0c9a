"""The served side of the loop in the lineage: the prediction log the API writes, and the champion it serves.

Neither is computed by Dagster. ``prediction_log`` is observed (rows and newest row per service in the last day):
each drift_report run records what its window saw of it, and the UI's Observe button reads the database.
``served_champion`` is the version the API swaps to within ``TAXI_MODEL_POLL_SECONDS`` of the ``champion`` alias
moving; promotion_decision and rollback_job record each move on it.
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from typing import Final

import dagster as dg

from taxi_assets import constants
from taxi_assets.platform_db.prediction_log import log_activity
from taxi_assets.resources import PlatformDatabase

SERVED_CHAMPION_KEY: Final = dg.AssetKey("served_champion")
OBSERVED_PERIOD: Final = timedelta(days=1)

served_champion = dg.AssetSpec(
    SERVED_CHAMPION_KEY,
    deps=["promotion_decision"],
    group_name=constants.SERVING_GROUP,
    kinds={"api"},
    description="The champion the prediction API serves: each worker polls the registry's champion alias and "
    "swaps to a new version without a restart. Observed by every promotion decision and rollback.",
)

# observable source assets are marked beta; the one used here (an observation function) is covered by
# test_definitions
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)

    @dg.observable_source_asset(
        name="prediction_log",
        group_name=constants.SERVING_GROUP,
        description="Every request the API answered (served, rejected, shadow) and the true fares posted to "
        "/feedback, in the platform database's prediction_log table. Written by the API, read by drift_report "
        "and labelled_traffic.",
    )
    def prediction_log(platform_db: PlatformDatabase) -> dg.ObserveResult:
        """Rows and the newest row per service over the last day; the data version changes with every row."""
        activity = log_activity(platform_db.url, datetime.now(UTC) - OBSERVED_PERIOD)
        metadata: dict[str, dg.RawMetadataValue] = {f"rows_last_day.{s}": n for s, n in activity.rows.items()}
        metadata |= {f"newest.{s}": moment.isoformat() for s, moment in activity.newest.items()}
        return dg.ObserveResult(data_version=dg.DataVersion(activity.data_version), metadata=metadata)


def served_observation(service: str, name: str, version: str | None, action: str) -> dg.AssetObservation:
    """What the API serves for ``service`` after a promotion decision or a rollback."""
    return dg.AssetObservation(
        asset_key=SERVED_CHAMPION_KEY,
        metadata={"service": service, "model": name, "champion_version": version or "none", "after": action},
    )
