"""``/schema``: the OpenAPI document of ``contract.py`` and a Swagger UI served from this process (works offline).

The document describes the rules of the champion being served (its reference profile narrows three ranges), so it
is rebuilt when the champion changes. The Swagger UI's files come from the ``swagger-ui-py`` package, not a CDN.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Final

import msgspec
from litestar import Controller, Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from taxi_serving.contract import openapi_document
from taxi_serving.service import Serving
from taxi_serving.validation import DEFAULT_VALIDATOR

ASSETS: Final = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
}
PAGE: Final = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Taxi fare API</title>
  <link rel="stylesheet" href="/schema/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/schema/assets/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({url: "/schema/openapi.json", dom_id: "#swagger-ui", persistAuthorization: true});
  </script>
</body>
</html>
"""


class DocsController(Controller):
    """The API's documentation (no API key needed)."""

    path = "/schema"
    include_in_schema = False

    @get("", media_type="text/html")
    async def page(self) -> str:
        """Swagger UI on the document below; "Authorize" takes the API key."""
        return PAGE

    @get("/openapi.json")
    async def document(self, request: Request) -> Response[bytes]:
        """The OpenAPI 3.1 document for the champion being served."""
        serving: Serving = request.app.state.serving
        champion = serving.store.champion
        settings = serving.settings
        documents = serving.documents  # per app: built once per champion version
        key = champion.version if champion else None
        if key not in documents:
            validator = champion.validator if champion else DEFAULT_VALIDATOR
            document = openapi_document(validator.rules, validator.speed, settings.batch_limit, settings.max_body_bytes)
            documents[key] = msgspec.json.encode(document)
        return Response(documents[key], media_type="application/json")

    @get("/assets/{name:str}")
    async def asset(self, name: FromPath[str]) -> Response[bytes]:
        """One file of the Swagger UI."""
        if name not in ASSETS:
            raise NotFoundException()
        return Response(_asset(name), media_type=ASSETS[name], headers={"Cache-Control": "public, max-age=86400"})


@cache
def _asset(name: str) -> bytes:
    return resources.files("swagger_ui").joinpath("static", name).read_bytes()
