"""``python -m taxi_dashboard``: the dashboard on ``TAXI_DASHBOARD_HOST``:``TAXI_DASHBOARD_PORT`` (127.0.0.1:8501).

Streamlit serves ``app.py`` headless, without usage statistics and without watching the source (a deployment,
not a notebook); its health check answers on ``/_stcore/health``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from streamlit.web import cli

APP = Path(__file__).with_name("app.py")


def arguments(env: dict[str, str]) -> list[str]:
    """The ``streamlit run`` command line for this environment."""
    return [
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        env.get("TAXI_DASHBOARD_HOST") or "127.0.0.1",
        "--server.port",
        env.get("TAXI_DASHBOARD_PORT") or "8501",
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]


if __name__ == "__main__":
    sys.argv = arguments(dict(os.environ))
    sys.exit(cli.main())
