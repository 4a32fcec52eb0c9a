"""Request-body documentation for handlers that read their body raw (to report every invalid field at once).

The body schema in /schema is generated from the msgspec Struct the handler accepts, so docs and validation
cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Litestar
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    PathItem,
    RequestBody,
    Schema,
)

_TYPES = {
    "object": OpenAPIType.OBJECT,
    "array": OpenAPIType.ARRAY,
    "string": OpenAPIType.STRING,
    "integer": OpenAPIType.INTEGER,
    "number": OpenAPIType.NUMBER,
    "boolean": OpenAPIType.BOOLEAN,
    "null": OpenAPIType.NULL,
}


def _schema(node: dict[str, Any], defs: dict[str, Any]) -> Schema:
    if "$ref" in node:
        return _schema(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in node:
        return Schema(one_of=[_schema(option, defs) for option in node["anyOf"]])
    kind = node.get("type")
    return Schema(
        type=_TYPES.get(kind) if isinstance(kind, str) else None,
        title=node.get("title"),
        description=node.get("description"),
        enum=node.get("enum"),
        minimum=node.get("minimum"),
        maximum=node.get("maximum"),
        min_length=node.get("minLength"),
        max_length=node.get("maxLength"),
        required=node.get("required"),
        properties={name: _schema(value, defs) for name, value in node.get("properties", {}).items()} or None,
        items=_schema(node["items"], defs) if "items" in node else None,
        default=node.get("default"),
    )


def request_body_operation(struct: type[msgspec.Struct]) -> type[Operation]:
    """An Operation class whose request body is ``struct``'s JSON schema."""
    body = RequestBody(required=True, content={"application/json": OpenAPIMediaType(schema=struct_schema(struct))})

    @dataclass
    class BodyOperation(Operation):
        def __post_init__(self) -> None:
            self.request_body = body

    BodyOperation.__name__ = f"{struct.__name__}Operation"
    return BodyOperation


def struct_schema(struct: type[msgspec.Struct]) -> Schema:
    """A msgspec Struct's JSON schema as Litestar's OpenAPI Schema."""
    (root,), components = msgspec.json.schema_components([struct])
    return _schema(root, components)


def document_post(
    app: Litestar,
    path: str,
    operation_id: str,
    summary: str,
    request: type[msgspec.Struct],
    response: type[msgspec.Struct],
    error: type[msgspec.Struct],
) -> None:
    """Add a POST route that Litestar cannot see (a plain ASGI handler) to the app's OpenAPI document."""
    json = "application/json"
    errors = {
        str(status): OpenAPIResponse(description=text, content={json: OpenAPIMediaType(schema=struct_schema(error))})
        for status, text in (
            (400, "The body is not JSON."),
            (401, "No API key, or a wrong one."),
            (413, "The body is larger than the limit."),
            (422, "Fields failed validation; each is named with its value and the valid range."),
            (503, "No champion is loaded."),
        )
    }
    operation = Operation(
        operation_id=operation_id,
        summary=summary,
        request_body=RequestBody(required=True, content={json: OpenAPIMediaType(schema=struct_schema(request))}),
        responses={
            "200": OpenAPIResponse(description="OK", content={json: OpenAPIMediaType(schema=struct_schema(response))}),
            **errors,
        },
    )
    openapi = app.openapi_schema  # built once by Litestar and cached; served as is from /schema
    openapi.paths = {**(openapi.paths or {}), path: PathItem(post=operation)}
