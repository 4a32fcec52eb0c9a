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
from taxi_tools.runner import CommandFailedError
from taxi_tools.settings import ApiAddress

API_START_SECONDS: Final = 90.0
SWAP_WAIT_SECONDS: Final = 60.0
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
        deadline = time.monotonic() + API_START_SECONDS
        while True:
            try:
                if requests.get(f"{api.base_url}/readyz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if process.poll() is not None:
                raise CommandFailedError("the API did not start (is the port taken? set TAXI_API_PORT)")
            if time.monotonic() > deadline:
                raise CommandFailedError(f"the API was not ready after {API_START_SECONDS:.0f} s")
            time.sleep(0.3)
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
        deadline = time.monotonic() + API_START_SECONDS
        while not _daemons_alive(instance):
            if process.poll() is not None:
                raise CommandFailedError("the Dagster daemon stopped at start (is DAGSTER_HOME writable?)")
            if time.monotonic() > deadline:
                raise CommandFailedError(f"the Dagster daemon sent no heartbeat within {API_START_SECONDS:.0f} s")
            time.sleep(1.0)
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

    Raises:
        CommandFailedError: it did not within ``SWAP_WAIT_SECONDS``.
    """
    started = time.monotonic()
    while time.monotonic() - started < SWAP_WAIT_SECONDS:
        if str(api.ready().get("champion_version")) == version:
            return time.time()
        time.sleep(0.25)
    raise CommandFailedError(f"the API did not swap to v{version} within {SWAP_WAIT_SECONDS:.0f} s")
