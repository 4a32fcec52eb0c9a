"""API keys: several at once, compared in constant time, re-read from a file when it changes (rotation)."""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from pathlib import Path

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Scope

from taxi_serving.errors import UnauthorizedError

HEADER = "x-api-key"


class ApiKeys:
    """The accepted keys: from configuration plus an optional file (one per line), reloaded on change."""

    def __init__(self, keys: tuple[str, ...], path: Path | None) -> None:
        self._static = tuple(k.encode() for k in keys)
        self._path = path
        self._file_keys: tuple[bytes, ...] = ()
        self._mtime: float | None = None

    def current(self) -> tuple[bytes, ...]:
        """Keys valid now."""
        if self._path is not None:
            try:
                mtime = self._path.stat().st_mtime
            except OSError:
                mtime = None
            if mtime != self._mtime:
                self._mtime = mtime
                text = self._path.read_text() if mtime is not None else ""
                self._file_keys = tuple(line.strip().encode() for line in text.splitlines() if line.strip())
        return self._static + self._file_keys

    def accepts(self, presented: str | None) -> bool:
        """Constant-time comparison against every key (no early exit on the first match)."""
        if not presented:
            return False
        candidate = presented.encode()
        matched = False
        for key in self.current():
            matched |= hmac.compare_digest(candidate, key)
        return matched


def key_from_headers(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """``X-API-Key: <key>`` or ``Authorization: Bearer <key>`` from raw ASGI headers.

    Read from the raw headers: building Litestar's Headers object for one lookup costs more than the lookup.
    """
    bearer = None
    for name, value in headers:
        if name == b"x-api-key":
            return value.decode("latin-1")
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            bearer = value[7:].decode("latin-1").strip()
    return bearer


def authorize(scope: Scope) -> None:
    """Raise 401 unless the request carries a key the app accepts: the one check of an API key.

    Every controller's endpoints reach it through the ``require_api_key`` guard; ``POST /predict``, a plain ASGI
    handler, calls it directly (Litestar's guard machinery costs about 10 microseconds a request there, as much
    as validating and scoring the trip).
    """
    keys: ApiKeys = scope["litestar_app"].state.api_keys
    if not keys.accepts(key_from_headers(scope["headers"])):
        raise UnauthorizedError("a valid API key is required in the X-API-Key header")


async def require_api_key(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """The guard on every protected controller (async: a sync guard would run in a thread)."""
    authorize(connection.scope)
