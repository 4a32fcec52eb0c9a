"""``python -m taxi_serving``: the API under uvicorn, with N worker processes whose metrics add up.

Each uvicorn worker is a process of its own. Their Prometheus metrics are summed through prometheus_client's
multiprocess mode: every worker writes its values to files in one folder, and a scrape of any worker reads
them all. The folder must be set before any worker imports prometheus_client and must start empty, so this
launcher makes a fresh one per start (``$TAXI_HOME/serving/metrics/<host>-<launcher pid>``, this host's older
ones of stopped launchers are removed) and exports ``PROMETHEUS_MULTIPROC_DIR`` before uvicorn starts the workers.

Options: ``--host`` (``TAXI_API_HOST``, 127.0.0.1), ``--port`` (``TAXI_API_PORT``, 8000), ``--workers``
(``TAXI_API_WORKERS``, 1), ``--log-level`` (``TAXI_LOG_LEVEL``, info): the environment is read in ``settings``.
Logs are JSON lines on stderr (``TAXI_LOG_FORMAT=text`` for readable lines).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from taxi_assets import logs
from taxi_serving.processes import alive
from taxi_serving.settings import launcher_from_env

METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def metrics_folder(home: Path, pid: int, host: str | None = None) -> Path:
    """A fresh metrics folder for the launcher ``pid`` on ``host``; this host's folders of stopped launchers go.

    Replicas may share a data home (a volume mounted by several containers, whose processes can have the same
    pids): each folder is named by host and pid, and only this host's are swept, since only their pids can be checked.
    """
    host = host or socket.gethostname()
    root = home / "serving" / "metrics"
    root.mkdir(parents=True, exist_ok=True)
    for folder in root.iterdir():
        name, _, number = folder.name.rpartition("-")
        if name == host and number.isdigit() and not alive(int(number)):
            shutil.rmtree(folder, ignore_errors=True)
    folder = root / f"{host}-{pid}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options, prepare the metrics folder, run uvicorn until it stops."""
    try:
        launcher = launcher_from_env(os.environ)
    except ValueError as exc:  # a setting that cannot be: say which, no traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="python -m taxi_serving", description="The taxi fare prediction API.")
    parser.add_argument("--host", default=launcher.host)
    parser.add_argument("--port", type=int, default=launcher.port)
    parser.add_argument("--workers", type=int, default=launcher.workers)
    parser.add_argument("--log-level", default=launcher.log_level.lower())
    args = parser.parse_args(argv)
    if "prometheus_client" in sys.modules:  # pragma: no cover - a programming error, not a user's
        raise RuntimeError("prometheus_client was imported before its multiprocess folder was set")
    if not os.environ.get(METRICS_ENV):
        os.environ[METRICS_ENV] = str(metrics_folder(launcher.home, os.getpid()))
    import uvicorn  # after the folder is set: the workers inherit the environment

    uvicorn.run(
        "taxi_serving.app:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=False,
        log_level=args.log_level,
        log_config=logs.dict_config(launcher.log_format, args.log_level.upper()),
        server_header=False,
        # uvicorn's httptools protocol with a deadline on reading each request (slow clients are cut)
        http="taxi_serving.slow_clients:ReadDeadlineProtocol",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
