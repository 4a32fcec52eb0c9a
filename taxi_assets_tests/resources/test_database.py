"""The platform database as a resource: its decision store, on a SQLite file in a folder not made yet."""

from pathlib import Path

from taxi_assets.registry.decisions import DecisionRecord
from taxi_assets.resources import PlatformDatabase


def test_decisions_are_recorded_and_read_back_in_a_new_folder(tmp_path: Path) -> None:
    store = PlatformDatabase(url=f"sqlite:///{tmp_path / 'new' / 'platform.db'}").decisions()
    record = DecisionRecord("green", "taxi-fare-green", "promote", "better by 1.2 RMSE", "2", "1", "2")
    store.record(record)
    (back,) = store.history("green")
    store.dispose()
    assert (back.action, back.reason, back.new_champion_version) == ("promote", "better by 1.2 RMSE", "2")
