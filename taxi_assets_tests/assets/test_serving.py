"""The served side in the lineage: the prediction log observed from the database, the champion the API serves."""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from dagster._core.definitions.observe import observe  # not exported at the top level in Dagster 1.13

from taxi_assets.assets.serving import SERVED_CHAMPION_KEY, prediction_log, served_observation
from taxi_assets.resources import PlatformDatabase
from taxi_serving.prediction_log.store import LogStore
from taxi_serving.service import log_row


def observed(url: str, instance: dg.DagsterInstance) -> dg.AssetObservation:
    result = observe([prediction_log], instance=instance, resources={"platform_db": PlatformDatabase(url=url)})
    assert result.success
    (event,) = [e for e in result.all_events if e.event_type_value == "ASSET_OBSERVATION"]
    return event.event_specific_data.asset_observation  # type: ignore[union-attr]


def test_the_log_is_observed_with_its_rows_per_service_and_a_version_that_moves_with_every_row(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'platform.db'}"
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00:00")
    store = LogStore(url)
    store.ensure_schema()
    with dg.instance_for_test() as instance:
        empty = observed(url, instance)
        assert empty.tags["dagster/data_version"] == "empty"
        store.insert([log_row(request_id="r1", endpoint="/predict", status="ok", status_code=200, logged_at=now,
                              service="green")])  # fmt: skip
        first = observed(url, instance)
        assert first.metadata["rows_last_day.green"].value == 1
        assert first.metadata["newest.green"].value.startswith(now[:10])
        store.insert([log_row(request_id="r2", endpoint="/predict", status="ok", status_code=200, logged_at=now,
                              service="green")])  # fmt: skip
        second = observed(url, instance)
    store.dispose()
    assert second.metadata["rows_last_day.green"].value == 2
    assert second.tags["dagster/data_version"] != first.tags["dagster/data_version"]


def test_the_served_champion_is_recorded_after_each_decision() -> None:
    observation = served_observation("green", "taxi-fare-green", None, "rollback")
    assert observation.asset_key == SERVED_CHAMPION_KEY
    assert {key: value.value for key, value in observation.metadata.items()} == {
        "service": "green",
        "model": "taxi-fare-green",
        "champion_version": "none",
        "after": "rollback",
    }
