"""``POST /predict``, the hottest path, as a plain ASGI handler inside the Litestar app.

Litestar's request and response layers cost about 27 microseconds a request here, more than validating, scoring
and logging the trip, so this route reads the body and writes the response itself. Errors still go through the
app's exception handlers; ``contract.py`` documents the route in /schema. Batches go through
``PredictionController`` (``controllers.py``).
"""

from __future__ import annotations

from typing import Final

import msgspec
from litestar import asgi
from litestar.exceptions import ClientException, HTTPException, MethodNotAllowedException
from litestar.types import HTTPResponseBodyEvent, HTTPResponseStartEvent, Receive, Scope, Send

from taxi_serving.auth import authorize
from taxi_serving.service import Serving

_encoder = msgspec.json.Encoder()
ALLOW: Final = "OPTIONS, POST"
# a prediction is for one caller at one time: no cache may keep it; no browser may guess another content type
PREDICTION_HEADERS: Final = (
    (b"content-type", b"application/json"),
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
)


class ClientDisconnectedError(ClientException):
    """The client went away before sending the whole body."""

    status_code = 400


@asgi("/predict", is_mount=False, copy_scope=False, operation_id="predict")
async def predict_route(scope: Scope, receive: Receive, send: Send) -> None:
    """``POST /predict``: price one trip with the champion (or the challenger, for the A/B share).

    The hottest path is a plain ASGI handler inside the Litestar app: Litestar's request and response layers cost
    about 27 microseconds a request here, more than validating, scoring and logging the trip. Errors still go
    through the app's exception handlers; ``contract.py`` documents the route in /schema.
    """
    method = scope.get("method")
    if method not in ("POST", "OPTIONS"):
        raise MethodNotAllowedException(headers={"Allow": ALLOW})
    app = scope["litestar_app"]
    authorize(scope)
    if method == "OPTIONS":  # as Litestar answers it on the controllers' routes: the key, then what is allowed
        await send({"type": "http.response.start", "status": 204, "headers": [(b"allow", ALLOW.encode())]})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    serving: Serving = app.state.serving
    body = await read_body(receive, serving.settings.max_body_bytes)
    payload = _encoder.encode(serving.predict_one(body, scope["query_string"]))
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-length", str(len(payload)).encode()), *PREDICTION_HEADERS],
    }
    body_event: HTTPResponseBodyEvent = {"type": "http.response.body", "body": payload, "more_body": False}
    await send(start)
    await send(body_event)


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, or 413 as soon as it passes ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnectedError()
        chunk: bytes = message.get("body", b"")  # type: ignore[assignment]
        size += len(chunk)
        if size > limit:
            raise HTTPException(status_code=413)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
