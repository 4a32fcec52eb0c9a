"""The API's contract, written once: the rules the validator enforces and the OpenAPI document it publishes.

Request bodies are checked field by field (``validation.py``) against the ``Rule``s of ``features.trip_rules`` under
the champion's outlier bounds (the table the training pipeline's checks come from too); the same ``Rule``s and the
configured batch limit become the JSON schemas of ``/schema/openapi.json``,
so a body the document calls valid is accepted and one it calls invalid is refused, bound for bound. Responses are
described by their msgspec Structs (``schemas.py``), which are also what the handlers return.
"""

from __future__ import annotations

import re
from typing import Any, Final

import msgspec

from taxi_assets.features.columns import EXAMPLE_TRIP, FEATURES, TARGET, WEEKEND_DAYS
from taxi_assets.features.trip_rules import Rule, rush_hours
from taxi_serving.schemas import (
    BatchResponse,
    ErrorBody,
    FeedbackResponse,
    Health,
    LoggedExplanation,
    ModelInfo,
    Prediction,
    Readiness,
)

CLIENT_ID: Final = "client_id"
CLIENT_ID_MAX: Final = 128  # the log's column width
REQUEST_ID_MAX: Final = 64
# text a client sends (client_id, request_id) is printable: no C0 control character and no DEL, NUL included
PRINTABLE: Final = "^[^\\u0000-\\u001f\\u007f]*$"
_CONTROL: Final = re.compile("[\x00-\x1f\x7f]")
API_KEY_HEADER: Final = "X-API-Key"


def rule_schema(rule: Rule) -> dict[str, Any]:
    """One rule of ``features.trip_rules`` as JSON Schema."""
    schema: dict[str, Any] = {"type": {int: "integer", float: "number", str: "string"}[rule.kind]}
    if rule.allowed:
        schema["enum"] = list(rule.allowed)
    else:
        schema["minimum"], schema["maximum"] = rule.low, rule.high
        if rule.kind is int:
            schema["minimum"], schema["maximum"] = _int_bound(rule.low, up=True), _int_bound(rule.high, up=False)
    if rule.description:
        schema["description"] = rule.description
    return schema


def _int_bound(value: float | None, up: bool) -> int | None:
    if value is None:
        return None
    whole = int(value)
    return whole + 1 if up and whole < value else whole


# -- the OpenAPI document ---------------------------------------------------------------------------------------


def trip_schema(
    rules: dict[str, Rule], speed: tuple[float, float], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One trip as JSON Schema: every feature required, nothing else, and the two flags tied to day and hour.

    The average speed ties distance to duration in a way JSON Schema cannot state; the description says it.
    """
    weekdays = [day for day in range(7) if day not in WEEKEND_DAYS]
    return {
        "type": "object",
        "description": f"A trip's average speed, trip_distance / (trip_duration_minutes / 60), is within "
        f"[{speed[0]:g}, {speed[1]:g}] mph as in training; outside it the trip is refused (422 on trip_distance).",
        "properties": {name: rule_schema(rules[name]) for name in FEATURES} | (extra or {}),
        "required": list(FEATURES),
        "additionalProperties": False,
        "allOf": [
            _flag("is_weekend", {"pickup_day_of_week": {"enum": list(WEEKEND_DAYS)}}),
            _flag("is_rush_hour", {"pickup_day_of_week": {"enum": weekdays}, "pickup_hour": {"enum": rush_hours()}}),
        ],
    }


def _flag(name: str, when: dict[str, Any]) -> dict[str, Any]:
    return {
        "if": {"properties": when, "required": list(when)},
        "then": {"properties": {name: {"const": 1}}},
        "else": {"properties": {name: {"const": 0}}},
    }


def printable(text: str) -> bool:
    """Whether ``text`` has no control character (the ``PRINTABLE`` pattern of the contract)."""
    return _CONTROL.search(text) is None


def without_control(text: str) -> str:
    """``text`` with its control characters removed: what the log keeps of text a refused request carried."""
    return _CONTROL.sub("", text)


CLIENT_ID_SCHEMA: Final = {
    "anyOf": [{"type": "string", "maxLength": CLIENT_ID_MAX, "pattern": PRINTABLE}, {"type": "null"}],
    "description": "Keeps a client on the same A/B arm.",
}


EXPLAIN_QUERY: Final = {
    "name": "explain",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "enum": ["true", "false", "1", "0"]},
    "description": "true: the answer says why this fare (Explanation): the base fare, what each feature added in "
    "USD, the fare floor's share, and the three largest reasons in words. Costs a few milliseconds.",
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": _ref(ErrorBody)}}}}


ERRORS: Final = {
    400: "The body is not JSON (UTF-8, numbers within a double, not nested too deeply).",
    401: "No API key, or a wrong one.",
    404: "No logged prediction has this request_id.",
    409: "Feedback for this request_id was already recorded.",
    413: "The body is larger than the configured limit.",
    422: "Fields failed validation; each is named with the value received and the valid range.",
    503: "No champion is loaded, or the prediction log cannot take the request now.",
}


def openapi_document(
    rules: dict[str, Rule], speed: tuple[float, float], batch_limit: int, max_body_bytes: int
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API for the given trip rules (the champion's) and limits."""
    (_, components) = msgspec.json.schema_components(
        [Prediction, BatchResponse, FeedbackResponse, ErrorBody, ModelInfo, Readiness, Health, LoggedExplanation],
        ref_template="#/components/schemas/{name}",
    )
    limit = f" Bodies over {max_body_bytes:,} bytes are refused (413)."
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Taxi fare API",
            "version": "1.0.0",
            "description": "Prices NYC taxi trips with the champion model of the taxi fare platform. Every error is "
            "an ErrorBody; a 422 names each failing field with the value received and the valid range." + limit,
        },
        "components": {
            "schemas": components,
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER},
                "Bearer": {"type": "http", "scheme": "bearer"},
            },
        },
        "paths": _write_paths(rules, speed, batch_limit) | _read_paths(),
    }


SECURED: Final[list[dict[str, list[str]]]] = [{"ApiKey": []}, {"Bearer": []}]


def _write_paths(rules: dict[str, Rule], speed: tuple[float, float], batch_limit: int) -> dict[str, Any]:
    """The three POST endpoints, whose bodies follow the trip rules."""
    trip = trip_schema(rules, speed)
    batch = {
        "type": "object",
        "properties": {
            "trips": {"type": "array", "items": trip, "minItems": 1, "maxItems": batch_limit},
            CLIENT_ID: CLIENT_ID_SCHEMA,
        },
        "required": ["trips"],
        "additionalProperties": False,
    }
    feedback = {
        "type": "object",
        "properties": {
            "request_id": {"type": "string", "minLength": 1, "maxLength": REQUEST_ID_MAX, "pattern": PRINTABLE},
            "actual_fare": rule_schema(rules[TARGET]),
        },
        "required": ["request_id", "actual_fare"],
        "additionalProperties": False,
    }
    single = _operation(
        "predict",
        "Price one trip with the champion (or the challenger, for the A/B share)",
        trip_schema(rules, speed, {CLIENT_ID: CLIENT_ID_SCHEMA}),
        {**EXAMPLE_TRIP, CLIENT_ID: "dispatch-7"},
        Prediction,
        (400, 401, 409, 413, 422, 503),
    )
    single["parameters"] = [EXPLAIN_QUERY]
    single["responses"]["409"]["description"] = "explain=true, and the version that answered cannot explain its fares."
    many = _operation(
        "predict_batch",
        f"Price 1 to {batch_limit} trips; the whole batch is refused if any trip is invalid",
        batch,
        {"trips": [EXAMPLE_TRIP]},
        BatchResponse,
        (400, 401, 413, 422, 503),
    )
    joined = _operation(
        "feedback",
        "Join the fare actually charged to a logged prediction",
        feedback,
        {"request_id": "3f0c2a9d5b7e4f61a8c0d2e4f6a8b0c1", "actual_fare": 17.5},
        FeedbackResponse,
        (400, 401, 404, 409, 413, 422, 503),
    )
    # a client that has priced a trip sends the fare charged for it later: a stateful test follows this link
    single["responses"]["200"]["links"] = {
        "feedback": {
            "operationId": "feedback",
            "requestBody": {"request_id": "$response.body#/request_id", "actual_fare": 17.5},
            "description": "The fare actually charged for this prediction, joined to it in the log.",
        }
    }
    return {"/predict": {"post": single}, "/predict/batch": {"post": many}, "/feedback": {"post": joined}}


def _read_paths() -> dict[str, Any]:
    """The GET endpoints: the model, explanations of logged fares, health, readiness and metrics."""
    metrics = {
        "operationId": "metrics",
        "summary": "Prometheus metrics, summed over the workers",
        "security": [],
        "responses": {"200": {"description": "OK", "content": {"text/plain": {"schema": {"type": "string"}}}}},
    }
    return {
        "/model": {"get": _get("model_info", "Champion and challenger, their metrics, the split", ModelInfo, SECURED)},
        "/predictions/{request_id}/explanation": {"get": _explained()},
        "/healthz": {"get": _get("healthz", "The process is alive", Health, [])},
        "/readyz": {"get": _get("readyz", "Ready when a champion is loaded (503 otherwise), and why", Readiness, [])},
        "/metrics": {"get": metrics},
    }


def _explained() -> dict[str, Any]:
    summary = "Why a logged prediction had its fare, explained by the model version that served it"
    operation = _get("explain_logged", summary, LoggedExplanation, SECURED)
    schema = {"type": "string", "minLength": 1, "maxLength": REQUEST_ID_MAX, "pattern": PRINTABLE}
    operation["parameters"] = [{"name": "request_id", "in": "path", "required": True, "schema": schema}]
    refused = "The request was refused (no fare), or its version cannot explain its fares."
    unreachable = "The prediction log, or the registry holding the version, cannot be reached now."
    errors = {404: ERRORS[404], 409: refused, 422: ERRORS[422], 503: unreachable}
    operation["responses"] |= {str(status): _error(text) for status, text in errors.items()}
    return operation


def _operation(
    operation_id: str,
    summary: str,
    body: dict[str, Any],
    example: dict[str, Any],
    response: type[msgspec.Struct],
    errors: tuple[int, ...],
) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "summary": summary,
        "security": SECURED,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": body, "example": example}},
        },
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": _ref(response)}}}},
            **{str(status): _error(ERRORS[status]) for status in errors},
        },
    }


def _get(
    operation_id: str, summary: str, response: type[msgspec.Struct], security: list[dict[str, list[str]]]
) -> dict[str, Any]:
    responses = {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": _ref(response)}}}}}
    if response is Readiness:
        responses["503"] = {
            "description": "Not ready: no champion, or its model file is missing.",
            "content": {"application/json": {"schema": {"$ref": _ref(Readiness)}}},
        }
    if security:
        responses["401"] = _error(ERRORS[401])
    return {"operationId": operation_id, "summary": summary, "security": security, "responses": responses}


def _ref(struct: type[msgspec.Struct]) -> str:
    return f"#/components/schemas/{struct.__name__}"
