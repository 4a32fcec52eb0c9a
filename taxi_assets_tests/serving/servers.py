"""Real API servers for the tests: uvicorn in a subprocess on 127.0.0.1, with one or several workers."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from taxi_assets.model.versions import ModelRegistry
from taxi_assets_tests.serving.support import HEADERS
from taxi_assets_tests.support import PROJECT_ROOT


def registry_for(home: Path) -> ModelRegistry:
    """The MLflow registry of an API whose data home is ``home`` (the defaults of ``settings_from_env``)."""
    return ModelRegistry(f"sqlite:///{home / 'mlflow' / 'mlflow.db'}", (home / "mlflow" / "artifacts").as_uri())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    """A running API: its base URL and its uvicorn process."""

    base: str
    process: subprocess.Popen[bytes]
    output: str = ""  # everything it wrote, once stopped

    def workers(self) -> list[int]:
        """Process ids of the uvicorn workers (the master's spawned children)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        found = []
        for pid in children:
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:  # gone, or a zombie of a worker just killed (ESRCH)
                continue
            if b"spawn_main" in command or b"uvicorn" in command:
                found.append(int(pid))
        return found


def wait_ready(base: str, seconds: float = 90) -> None:
    """Until /readyz answers 200."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{base} not ready after {seconds} s")


@contextmanager
def running_server(
    home: Path, poll_seconds: float = 0.3, extra_env: dict[str, str] | None = None, workers: int = 1
) -> Iterator[Server]:
    """The API launcher (``python -m taxi_serving``); stopped with SIGTERM, its output checked for tracebacks."""
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TAXI_HOME": str(home),
        "TAXI_API_KEYS": HEADERS["X-API-Key"],
        "TAXI_MODEL_POLL_SECONDS": str(poll_seconds),
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        **(extra_env or {}),
    }
    command = [sys.executable, "-m", "taxi_serving", "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    # read the output as it comes: a pipe nobody drains fills at 64 KiB and stalls every worker that logs
    chunks: list[bytes] = []
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: chunks.extend(iter(process.stdout.readline, b"")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    base = f"http://127.0.0.1:{port}"
    running = Server(base, process)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        reader.join(timeout=10)
        output = b"".join(chunks)
        running.output = output.decode()
        text = output.decode()
        at = text.find("Traceback")
        assert at < 0, text[max(0, at - 1500) : at + 4000]
        if env.get("TAXI_LOG_FORMAT", "json") == "json":  # the service's log: every line one JSON object
            assert not_json_lines(output.decode()) == [], output.decode()[-3000:]


def not_json_lines(output: str) -> list[str]:
    """The lines of a service's output that are not one JSON object each."""
    found = []
    for line in output.splitlines():
        try:
            if line.strip() and not isinstance(json.loads(line), dict):
                found.append(line)
        except json.JSONDecodeError:
            found.append(line)
    return found


@contextmanager
def server(home: Path, poll_seconds: float = 0.3, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """One worker; yields the base URL."""
    with running_server(home, poll_seconds, extra_env) as running:
        yield running.base


@dataclass
class Load:
    """Clients posting /predict until stopped; remembers the request id of every 200 answer.

    ``headers`` and ``verify`` default to a local test server's key and plain HTTP; a deployment behind its proxy
    passes its own key and ``verify=False`` for a self-signed certificate.
    """

    base: str
    body: dict[str, object]
    clients: int = 8
    headers: dict[str, str] = field(default_factory=lambda: dict(HEADERS))
    verify: bool = True
    answered: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    cut: int = 0  # requests whose connection failed or was cut
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def _send(self) -> None:
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=30, verify=self.verify) as client:
            while not self._stop.is_set():
                try:
                    response = client.post("/predict", json=self.body)
                except httpx.TransportError:
                    self.cut += 1
                    time.sleep(0.05)  # a killed worker's connections; a new one is coming
                    continue
                self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
                if response.status_code == 200:
                    self.answered.append(response.json()["request_id"])

    @property
    def failed(self) -> int:
        """Requests not answered 200: refused with another status, or cut."""
        return self.cut + sum(count for status, count in self.statuses.items() if status != 200)

    def wait_for(self, answered: int, timeout: float) -> bool:
        """Whether ``answered`` requests in all have been answered 200 within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while len(self.answered) < answered and time.monotonic() < deadline:
            time.sleep(0.5)
        return len(self.answered) >= answered

    def __enter__(self) -> "Load":
        self._threads = [threading.Thread(target=self._send) for _ in range(self.clients)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
