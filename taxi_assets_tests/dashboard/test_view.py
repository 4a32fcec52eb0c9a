"""What every screen shares: who holds a key, and loads cached for the time the settings say, read at first use."""

from pathlib import Path

import pytest

from taxi_dashboard import view
from taxi_dashboard.settings import settings_from_env


def test_a_key_names_its_holder_and_an_unknown_or_empty_key_names_nobody(tmp_path: Path) -> None:
    config = settings_from_env({"TAXI_HOME": str(tmp_path), "TAXI_DASHBOARD_KEYS": "ana:k1,bo:k2"})
    assert view.key_holder(config, "k2") == "bo"
    assert view.key_holder(config, "k3") is None
    assert view.key_holder(config, "") is None


def test_a_cached_load_reads_the_cache_time_when_first_called_not_at_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def load(name: str) -> str:
        calls.append(name)
        return name.upper()

    cached = view.cached(load)  # nothing is read yet: no settings exist at this point
    monkeypatch.setenv("TAXI_HOME", str(tmp_path))
    monkeypatch.setenv("TAXI_DASHBOARD_CACHE_SECONDS", "600")
    assert [cached("green"), cached("green"), cached("yellow")] == ["GREEN", "GREEN", "YELLOW"]
    assert calls == ["green", "yellow"]
    assert cached.__name__ == "load"
