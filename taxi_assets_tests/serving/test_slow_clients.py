"""Slow clients are cut: a real API server (``python -m taxi_serving``) with a two-second read deadline."""

import socket
import time
from pathlib import Path

import httpx
import pytest

from taxi_assets_tests.champions import Trained, register
from taxi_assets_tests.serving.servers import registry_for, server, wait_ready
from taxi_assets_tests.serving.support import HEADERS, trip

pytestmark = pytest.mark.slow  # a real server and seconds of waiting on purpose


def connect(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=10)
    return connection


def closed_within(connection: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Whether the server closed the connection within ``seconds``, and what it sent before."""
    received = b""
    deadline = time.monotonic() + seconds
    connection.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            chunk = connection.recv(4096)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return True, received
        if not chunk:
            return True, received
        received += chunk
    return False, received


def test_slow_headers_a_slow_body_and_silence_are_cut_and_a_normal_client_is_not(
    trained: Trained, tmp_path: Path
) -> None:
    register(registry_for(tmp_path), trained, "a")
    with server(tmp_path, extra_env={"TAXI_READ_TIMEOUT_SECONDS": "2"}) as base:
        wait_ready(base)
        silent = connect(base)  # connects and sends nothing
        trickling = connect(base)  # headers a byte at a time
        headers = f"POST /predict HTTP/1.1\r\nhost: x\r\nx-api-key: {HEADERS['X-API-Key']}\r\n".encode()
        trickling.sendall(headers[:10])
        slow_body = connect(base)  # whole headers, then a body that never completes
        slow_body.sendall(headers + b"content-type: application/json\r\ncontent-length: 500\r\n\r\n{")
        started = time.monotonic()
        for byte in headers[10:30]:
            trickling.sendall(bytes([byte]))
            time.sleep(0.1)
        # a normal client meanwhile, on a keep-alive connection idle for a second between requests
        with httpx.Client(base_url=base, headers=HEADERS) as client:
            assert client.post("/predict", json=trip(trained.holdout)).status_code == 200
            time.sleep(1.0)
            assert client.post("/predict", json=trip(trained.holdout)).status_code == 200
        for connection in (silent, trickling, slow_body):
            closed, received = closed_within(connection, 5)
            assert closed
            assert received.startswith(b"HTTP/1.1 408 ")
            assert b'"error":"request_timeout"' in received
            connection.close()
        assert time.monotonic() - started < 8
        assert httpx.get(f"{base}/readyz").status_code == 200  # the server is fine
