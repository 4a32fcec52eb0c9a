"""Real processes for the dashboard's tests: the Dagster webserver on an instance, the dashboard's own server."""

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from taxi_assets_tests.serving.servers import free_port
from taxi_assets_tests.support import PROJECT_ROOT

REPOSITORIES = "{ repositoriesOrError { ... on RepositoryConnection { nodes { name } } } }"


@dataclass(frozen=True)
class Running:
    """A server's base URL and its process."""

    url: str
    process: subprocess.Popen[bytes]


def _wait(what: str, ready: Callable[[], bool], process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited with {process.returncode}")
        try:
            if ready():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{what} not ready after {seconds} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _base_env(home: Path) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "JAVA_HOME", "SPARK_LOCAL_IP", "PYTHONPATH", "PYTHONHASHSEED")
    return {key: os.environ[key] for key in keep if key in os.environ} | {"TAXI_HOME": str(home)}


@contextmanager
def running_webserver(home: Path, log: Path) -> Iterator[Running]:
    """``dagster-webserver`` on the project's workspace, its instance in ``home/dagster`` (no daemon)."""
    dagster_home = home / "dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_ROOT / "dagster.yaml", dagster_home)
    port = free_port()
    command = [sys.executable, "-m", "dagster_webserver", "-w", str(PROJECT_ROOT / "workspace.yaml")]
    command += ["-h", "127.0.0.1", "-p", str(port)]
    env = _base_env(home) | {"DAGSTER_HOME": str(dagster_home)}
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"

    def loaded() -> bool:
        answer = httpx.post(f"{url}/graphql", json={"query": REPOSITORIES}, timeout=5).json()
        return bool(answer.get("data", {}).get("repositoriesOrError", {}).get("nodes"))

    try:
        _wait("dagster-webserver", loaded, process, 120)
        yield Running(url, process)
    finally:
        _stop(process)


@contextmanager
def running_dashboard(home: Path, env: dict[str, str], log: Path) -> Iterator[Running]:
    """``python -m taxi_dashboard`` on a free port, reading ``home``."""
    port = free_port()
    environment = _base_env(home) | env | {"TAXI_DASHBOARD_PORT": str(port)}
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "taxi_dashboard"],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait("the dashboard", lambda: httpx.get(f"{url}/_stcore/health", timeout=2).text == "ok", process, 60)
        yield Running(url, process)
    finally:
        _stop(process)
