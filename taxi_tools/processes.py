"""The demo's child processes: the API (``python -m taxi_serving``) and the Dagster daemon, started and stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import dagster as dg
import requests

from taxi_assets import logs
from taxi_assets.features.columns import EXAMPLE_TRIP
from taxi_tools.instance_watch import wait_for
from taxi_tools.settings import ApiAddress

SAMPLE_TRIP: Final = EXAMPLE_TRIP
WORKSPACE: Final = Path(__file__).resolve().parent.parent / "workspace.yaml"


@dataclass(frozen=True)
class Api:
    """A running API: where it answers and the key it accepts."""

    base_url: str
    key: str
    # None: an API this process did not start (a deployment's, behind its proxy)
    process: subprocess.Popen[bytes] | None = None

    def ready(self) -> dict[str, Any]:
        """``/readyz``'s body (champion version, source, registry reachability)."""
        return dict(requests.get(f"{self.base_url}/readyz", timeout=5).json())

    def predict(self, trip: Mapping[str, Any]) -> requests.Response:
        """One ``POST /predict``."""
        return requests.post(f"{self.base_url}/predict", json=dict(trip), headers={"X-API-Key": self.key}, timeout=5)


@contextmanager
def running_api(env: Mapping[str, str], service: str, poll_seconds: float | None = None) -> Iterator[Api]:
    """Start the API (``python -m taxi_serving``) on the champion (``TAXI_API_PORT``, default 8000); stop it on exit.

    Raises:
        CommandFailedError: the API did not become ready.
    """
    address = ApiAddress.from_env({key: value for key, value in env.items() if key != "TAXI_API_URL"})
    port, key = address.port, address.key
    # its log shares the terminal with the story: readable lines unless the environment asks for JSON
    server_env = {**env, "TAXI_SERVICE": service, "TAXI_API_KEYS": address.keys}
    server_env[logs.FORMAT_ENV] = env.get(logs.FORMAT_ENV) or logs.TEXT
    if poll_seconds is not None:
        server_env["TAXI_MODEL_POLL_SECONDS"] = str(poll_seconds)
    command = [sys.executable, "-m", "taxi_serving", "--host", "127.0.0.1", "--port", port, "--log-level", "warning"]
    print(f"\n== starting the API on http://127.0.0.1:{port} (docs: /schema)", flush=True)
    process = subprocess.Popen(command, env=server_env)
    api = Api(f"http://127.0.0.1:{port}", key, process)
    try:
        # as long as it takes a busy machine to import and load, while the process lives
        wait_for(
            "the API to be ready",
            lambda: _answers(f"{api.base_url}/readyz"),
            lambda: None if process.poll() is None else "it stopped (is the port taken? set TAXI_API_PORT)",
            every=0.3,
        )
        yield api
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def show_sample_request(api: Api) -> None:
    """Print one request as curl would send it, and the API's answer."""
    body = json.dumps(SAMPLE_TRIP)
    # a deployment's key is a secret: the line names where it is instead of printing it
    key = api.key if api.process is not None else "$TAXI_API_KEY"
    print(f"\n$ curl -s -X POST {api.base_url}/predict -H 'X-API-Key: {key}' -H 'Content-Type: application/json' \\")
    print(f"    -d '{body}'")
    print(api.predict(SAMPLE_TRIP).text)


@contextmanager
def running_daemon(env: Mapping[str, str], instance: dg.DagsterInstance) -> Iterator[subprocess.Popen[bytes]]:
    """``dagster-daemon run`` on the instance (schedules, sensors, the run queue); stopped with its runs on exit."""
    command = [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(WORKSPACE), "--log-format", "json"]
    log = Path(env["DAGSTER_HOME"]) / "daemon.log"
    print(f"\n== starting the Dagster daemon on {env['DAGSTER_HOME']} (its log and its runs': {log})", flush=True)
    with log.open("ab") as sink:
        # a service's log in a file: JSON lines (its runs' console and Spark's as well)
        daemon_env = {**env, logs.FORMAT_ENV: logs.JSON}
        process = subprocess.Popen(command, env=daemon_env, start_new_session=True, stdout=sink, stderr=sink)
    try:
        wait_for(
            "the Dagster daemon's first heartbeats",
            lambda: _daemons_alive(instance),
            lambda: None if process.poll() is None else "it stopped at start (is DAGSTER_HOME writable?)",
            every=1.0,
        )
        yield process
    finally:
        # the daemon's process group holds its code server and the runs it launched
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _daemons_alive(instance: dg.DagsterInstance) -> bool:
    """Whether the scheduler, the sensor daemon and the run queue have each sent a heartbeat in the last minute."""
    beats = instance.get_daemon_heartbeats()
    needed = ("SCHEDULER", "SENSOR", "QUEUED_RUN_COORDINATOR")
    return all(name in beats and time.time() - beats[name].timestamp < 60 for name in needed)


def wait_for_swap(api: Api, version: str) -> float:
    """Epoch seconds when the API first answered with ``version``.

    It waits as long as the API runs and serves what it served before (a busy machine loads the new version later).

    Raises:
        CommandFailedError: the API stopped, or swapped to another version; the message says which.
    """
    before = str(api.ready().get("champion_version"))

    def swapped() -> float | None:
        return time.time() if str(api.ready().get("champion_version")) == version else None

    def stopped() -> str | None:
        if api.process is not None and api.process.poll() is not None:
            return f"the API stopped (exit {api.process.returncode})"
        serving = str(api.ready().get("champion_version"))
        return None if serving in (before, version) else f"it serves v{serving} instead"

    found: float = wait_for(f"the API to serve v{version}", swapped, stopped, every=0.25)
    return found


def _answers(url: str) -> bool:
    """Whether ``url`` answers 200 (False while nothing listens yet)."""
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.ConnectionError:
        return False
