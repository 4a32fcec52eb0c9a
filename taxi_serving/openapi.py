"""Request-body documentation for handlers that read their body raw (to report every invalid field at once).

The body schema in /schema is generated from the msgspec Struct the handler accepts, so docs and validation
cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema

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
    (root,), components = msgspec.json.schema_components([struct])
    body = RequestBody(required=True, content={"application/json": OpenAPIMediaType(schema=_schema(root, components))})

    @dataclass
    class BodyOperation(Operation):
        def __post_init__(self) -> None:
            self.request_body = body

    BodyOperation.__name__ = f"{struct.__name__}Operation"
    return BodyOperation
