"""The tools' settings: what the CLI and the demo read from the environment, and the demo's own values.

The code location reads its configuration in ``taxi_assets.definitions`` (the composition root), the API in
``taxi_serving.settings``; the tools reuse the code location's readers for what they share with it (the data
home, the trip source, MLflow, the platform database) and read here only what is theirs: the Dagster instance
they run in, and where the API they start or call listens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from taxi_assets.data_home import DataHome

# The demo's story: the month after each service's training window is its "calm" replay (same fares, unseen
# trips); the drift month is after the fare increase of 2022-12-19.
STORY_CALM_MONTH: Final = {"green": "2022-03", "yellow": "2022-11"}
STORY_DRIFT_MONTH: Final = {"green": "2023-01", "yellow": "2023-01"}
STORY_CALM_ROWS: Final = 3_000
STORY_DRIFT_ROWS: Final = 5_000
REPLAY_RATE: Final = 1_000.0
# One wall-clock second stands for this many seconds of trip time (a 15-minute trip's fare arrives in 1.5 s).
REPLAY_COMPRESSION: Final = 600.0
# The service of the offline files (the TLC download defaults to yellow).
OFFLINE_SERVICE: Final = "green"

DEFAULT_API_PORT: Final = "8000"
# where `make dashboard` serves the dashboard (TAXI_DASHBOARD_PORT)
DASHBOARD_URL: Final = "http://127.0.0.1:8501"
DEV_API_KEY: Final = "local-dev-key"


@dataclass(frozen=True)
class ApiAddress:
    """Where the API listens and the key the tools send (the first of ``TAXI_API_KEYS``)."""

    base_url: str
    port: str
    keys: str

    @property
    def key(self) -> str:
        """The key the tools send."""
        return self.keys.split(",")[0]

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ApiAddress:
        """``TAXI_API_URL`` (else this host on ``TAXI_API_PORT``, 8000) and ``TAXI_API_KEYS`` (a local key)."""
        port = env.get("TAXI_API_PORT") or DEFAULT_API_PORT
        base_url = env.get("TAXI_API_URL") or f"http://127.0.0.1:{port}"
        return cls(base_url, port, env.get("TAXI_API_KEYS") or DEV_API_KEY)


def instance_home(env: Mapping[str, str]) -> Path:
    """The Dagster instance's folder: ``DAGSTER_HOME``, else ``dagster/`` in the data home (created)."""
    home = DataHome.from_env(env).dagster_home
    home.mkdir(parents=True, exist_ok=True)
    return home.absolute()
