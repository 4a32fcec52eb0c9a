"""Response bodies (msgspec Structs): what the handlers return and what ``contract.py`` documents."""

from __future__ import annotations

from typing import Any

import msgspec


class Explanation(msgspec.Struct, kw_only=True):
    """Why this fare: where the model starts and what each feature adds, in USD (``POST /predict?explain=true``).

    ``base_fare`` (the model's mean fare over its training trips) plus every contribution plus ``floor_adjustment``
    (what the fare floor added, 0 unless the trees summed below it) is the fare returned. ``reasons``: the three
    largest contributions in words, the largest first.
    """

    base_fare: float
    contributions: dict[str, float]
    floor_adjustment: float
    reasons: list[str]


class LoggedExplanation(msgspec.Struct, kw_only=True):
    """A logged prediction explained by the version that served it: the trip as logged, the fare, and why."""

    request_id: str
    model_version: str
    fare: float
    logged_at: str
    trip: dict[str, Any]
    explanation: Explanation


class Prediction(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One priced trip; with ``explain=true``, why this fare."""

    request_id: str
    fare: float
    model_version: str
    arm: str
    served_at: str
    explanation: Explanation | None = None


class BatchResponse(msgspec.Struct, kw_only=True):
    """Per-trip results, in request order."""

    predictions: list[Prediction]


class FeedbackResponse(msgspec.Struct, kw_only=True):
    """The joined record."""

    request_id: str
    prediction: float
    actual_fare: float
    error: float


class FieldError(msgspec.Struct, kw_only=True):
    """One failing field: where, what was received, what is allowed."""

    field: str
    value: Any
    constraint: str


class ErrorBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Every error response has this shape; never a stack trace or an exception's text."""

    status: int
    error: str
    detail: str
    fields: list[FieldError] = msgspec.field(default_factory=list)
    request_id: str | None = None


class ModelDescription(msgspec.Struct, kw_only=True):
    """One loaded model."""

    alias: str
    version: str
    loaded_at: str
    source: str
    metrics: dict[str, float]


class ModelInfo(msgspec.Struct, kw_only=True):
    """What serves traffic and how traffic is split."""

    model_name: str
    champion: ModelDescription | None
    challenger: ModelDescription | None
    challenger_share: float
    shadow: bool
    rollout_stage: str | None = None


class Readiness(msgspec.Struct, kw_only=True):
    """Whether a champion is loaded, which, from where, and the state of the registry and the log store.

    ``log_backlog``: records this worker journaled that are not in the database yet; ``log_quarantined``: records
    the database refused, summed over the API's workers as ``/metrics`` sums them (kept in
    ``prediction_log_quarantine`` with the reason).
    """

    ready: bool
    model_name: str
    champion_version: str | None
    loaded_at: str | None
    source: str | None
    registry_reachable: bool
    log_store_reachable: bool
    log_backlog: int
    log_quarantined: int
    detail: str


class Health(msgspec.Struct, kw_only=True):
    """The process is alive."""

    status: str
