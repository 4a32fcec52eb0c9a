"""Domain errors and the one place they become HTTP responses (always an ``ErrorBody``, never a traceback)."""

from __future__ import annotations

import logging
import time
from http import HTTPStatus

from litestar import Request, Response
from litestar.exceptions import HTTPException

from taxi_serving.schemas import ErrorBody, FieldError

log = logging.getLogger("taxi_serving")


class ApiError(Exception):
    """An error with an HTTP status and a safe, client-facing message."""

    status = HTTPStatus.INTERNAL_SERVER_ERROR
    error = "internal_error"

    def __init__(self, detail: str, fields: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.fields = fields or []


class InvalidRequestError(ApiError):
    """The body parsed but its values break the rules (422)."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY
    error = "validation_failed"


class MalformedBodyError(ApiError):
    """The body is not JSON (400)."""

    status = HTTPStatus.BAD_REQUEST
    error = "malformed_json"


class UnauthorizedError(ApiError):
    """No API key, or a wrong one (401)."""

    status = HTTPStatus.UNAUTHORIZED
    error = "unauthorized"


class NotFoundError(ApiError):
    """The thing asked for does not exist (404)."""

    status = HTTPStatus.NOT_FOUND
    error = "not_found"


class ConflictError(ApiError):
    """The request repeats something that may happen once (409)."""

    status = HTTPStatus.CONFLICT
    error = "conflict"


class NoModelError(ApiError):
    """No champion is loaded yet (503)."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    error = "no_model"


class LogUnavailableError(ApiError):
    """The prediction log cannot take the request now (503); what could be kept was journaled."""

    status = HTTPStatus.SERVICE_UNAVAILABLE
    error = "log_unavailable"


def error_response(
    status: int,
    error: str,
    detail: str,
    fields: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[ErrorBody]:
    """The JSON error response every handler below returns (never cached, its type never guessed)."""
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", **(headers or {})}
    if status == HTTPStatus.UNAUTHORIZED:
        headers["WWW-Authenticate"] = 'ApiKey header="X-API-Key"'
    return Response(
        ErrorBody(status=status, error=error, detail=detail, fields=fields or []), status_code=status, headers=headers
    )


def _count(request: Request, status: int, reason: str) -> None:
    serving = request.app.state.get("serving")
    if serving is not None:
        serving.metrics.errors.labels(status=str(status), reason=reason).inc()


def api_error_handler(request: Request, exc: ApiError) -> Response[ErrorBody]:
    """Domain errors carry their own status and safe message."""
    _count(request, int(exc.status), exc.error)
    return error_response(int(exc.status), exc.error, exc.detail, exc.fields)


def http_exception_handler(request: Request, exc: HTTPException) -> Response[ErrorBody]:
    """Litestar's own errors (404 route, 405, 413 body too large, ...) in our shape, with a fixed message."""
    status = HTTPStatus(exc.status_code)
    error = status.name.lower()
    _count(request, int(status), error)
    detail = {
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "the request body is larger than the configured limit",
        HTTPStatus.NOT_FOUND: "no such endpoint",
        HTTPStatus.METHOD_NOT_ALLOWED: "method not allowed on this endpoint",
        HTTPStatus.BAD_REQUEST: "the request could not be read",
    }.get(status, status.phrase)
    # Allow on a 405 (which methods the path takes); nothing else of the exception's reaches the client
    allow = {k.lower(): v for k, v in (exc.headers or {}).items()}.get("allow")
    allow = allow if status == HTTPStatus.METHOD_NOT_ALLOWED else None
    return error_response(int(status), error, detail, headers={"Allow": allow} if allow else None)


class _Throttled:
    """A log line at most every ``seconds``, saying how many like it were held back.

    A full disk refuses every request: a line each would flood the log, and a stdout read slower than it is
    written stalls the workers that write it.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._last = -seconds
        self._held = 0

    def due(self) -> int | None:
        """None while a line was written less than ``seconds`` ago; else how many were held back since."""
        now = time.monotonic()
        if now - self._last < self.seconds:
            self._held += 1
            return None
        held, self._held, self._last = self._held, 0, now
        return held


_JOURNAL_REFUSALS = _Throttled(10.0)


def journal_error_handler(request: Request, exc: Exception) -> Response[ErrorBody]:
    """The journal refused a record (disk full, folder gone): the request is not answered as if it were logged."""
    held = _JOURNAL_REFUSALS.due()
    if held is not None:
        log.error("prediction journal unavailable on %s: %s (%d more refused since the last line)", request.url.path,
                  exc, held)  # fmt: skip
    _count(request, 503, "journal_unavailable")
    return error_response(503, "journal_unavailable", "the request could not be recorded; try again later")


def internal_error_handler(request: Request, exc: Exception) -> Response[ErrorBody]:
    """Anything unexpected: logged in full here, a fixed message to the client."""
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    _count(request, 500, "internal_error")
    return error_response(500, "internal_error", "the server could not complete the request; it has been logged")
