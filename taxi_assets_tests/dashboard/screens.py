"""The dashboard's screens run in-process by Streamlit's AppTest, on the environment of the test."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import taxi_dashboard

APP = Path(taxi_dashboard.__file__).parent / "app.py"
# what the dashboard reads besides TAXI_HOME; a test sets it, or it comes from the data home
READ = ("TAXI_DATABASE_URL", "TAXI_LAKE_ROOT", "MLFLOW_TRACKING_URI", "TAXI_DASHBOARD_KEYS")
# no Dagster webserver unless a test starts one (port 9 is discard: nothing listens there); links keep the default
NO_DAGSTER = "http://127.0.0.1:9"


def point_at(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The dashboard reads ``home`` and nothing else."""
    monkeypatch.setenv("TAXI_HOME", str(home))
    monkeypatch.setenv("TAXI_DAGSTER_URL", NO_DAGSTER)
    monkeypatch.setenv("TAXI_DAGSTER_UI_URL", "http://127.0.0.1:3000")
    for key in READ:
        monkeypatch.delenv(key, raising=False)


def run_screen(screen: str | None = None) -> AppTest:
    """The app, then one of its screens (``screens/<screen>.py``); fails on any exception a screen raised."""
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    if screen is not None:
        app.switch_page(f"screens/{screen}.py").run()
    assert not app.exception, [e.message for e in app.exception]
    return app
