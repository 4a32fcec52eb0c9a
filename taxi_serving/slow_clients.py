"""A deadline on reading each request, so slow clients cannot hold connections open (uvicorn has none).

uvicorn closes a keep-alive connection that stays idle after a response, but not one that sends its headers or body
a byte at a time, nor one that connects and sends nothing: 2,000 such connections were all still open after 30 s.
``ReadDeadlineProtocol`` is uvicorn's httptools protocol with one timer more: from the connection (for its first
request) or from a request's first byte, the whole request, headers and body, must have arrived within
``TAXI_READ_TIMEOUT_SECONDS`` (30 by default: 1 MB, the largest body, at 35 KB/s). Otherwise the client gets a 408
if no response has started, and the connection is closed. ``python -m taxi_serving`` runs uvicorn with it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from taxi_serving.settings import launcher_from_env

log = logging.getLogger("taxi_serving.slow_clients")
_BODY = b'{"status":408,"error":"request_timeout","detail":"the request did not arrive within the read deadline"}'
_TIMED_OUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: " + str(len(_BODY)).encode() + b"\r\n\r\n" + _BODY
)


class ReadDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a deadline on reading each request."""

    read_seconds: float | None = None  # read once per process from the environment, at the first connection

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if ReadDeadlineProtocol.read_seconds is None:
            ReadDeadlineProtocol.read_seconds = launcher_from_env(os.environ).read_timeout_seconds
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """A new connection: its first request must arrive in time."""
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        """A request's first byte: the whole of it must arrive in time."""
        super().on_message_begin()
        self._arm()

    def on_message_complete(self) -> None:
        """The request has arrived whole: no deadline until the next one begins."""
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        """The response is out; a connection closing after it reads nothing more."""
        super().on_response_complete()
        # a response sent before its request was read whole (a 401, a 413): the connection's reading is over
        if self.transport.is_closing():
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection is gone: so is its deadline."""
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.read_seconds or 30.0, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        # a 408 unless a response is being written (a slow body is read while the app waits for it)
        if self.cycle is None or self.cycle.response_complete or not self.cycle.response_started:
            self.transport.write(_TIMED_OUT)
        log.info("closed a connection that did not send its request within %s s", self.read_seconds)
        self.transport.close()
