"""Request and response bodies (msgspec Structs). Static bounds live here; data-driven ranges in validation.py."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

Borough = Literal["Bronx", "Brooklyn", "EWR", "Manhattan", "Queens", "Staten Island", "Unknown"]
RatecodeId = Literal[1, 2, 3, 4, 5, 6, 99]
PaymentType = Literal[0, 1, 2, 3, 4, 5, 6]
Flag = Annotated[int, Meta(ge=0, le=1)]


class TripFeatures(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One trip's 12 model features (day of week: Monday = 0; rush hour: weekdays 07-10 and 16-20)."""

    trip_distance: Annotated[float, Meta(ge=0, le=1_000, description="Miles.")]
    passenger_count: Annotated[int, Meta(ge=0, le=9)]
    pickup_hour: Annotated[int, Meta(ge=0, le=23)]
    pickup_day_of_week: Annotated[int, Meta(ge=0, le=6, description="Monday = 0 ... Sunday = 6.")]
    pickup_month: Annotated[int, Meta(ge=1, le=12)]
    trip_duration_minutes: Annotated[float, Meta(ge=0, le=1_440)]
    is_weekend: Flag
    is_rush_hour: Flag
    RatecodeID: RatecodeId
    payment_type: PaymentType
    pickup_borough: Borough
    dropoff_borough: Borough


class PredictRequest(TripFeatures, kw_only=True, forbid_unknown_fields=True):
    """A trip to price; ``client_id`` keeps a client on the same A/B arm."""

    client_id: Annotated[str, Meta(max_length=128)] | None = None


class BatchRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Several trips priced in one call."""

    trips: list[TripFeatures]
    client_id: Annotated[str, Meta(max_length=128)] | None = None


class Prediction(msgspec.Struct, kw_only=True):
    """One priced trip."""

    request_id: str
    fare: float
    model_version: str
    arm: str
    served_at: str


class BatchResponse(msgspec.Struct, kw_only=True):
    """Per-trip results, in request order."""

    predictions: list[Prediction]


class FeedbackRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The fare that was actually charged for an earlier prediction."""

    request_id: Annotated[str, Meta(min_length=1, max_length=64)]
    actual_fare: Annotated[float, Meta(ge=0, le=10_000)]


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


class Readiness(msgspec.Struct, kw_only=True):
    """Whether a champion is loaded, which, from where, and the state of the registry and the log store.

    ``log_backlog``: records this worker journaled that are not in the database yet; ``log_quarantined``: records
    the database refused since start (kept in ``prediction_log_quarantine`` with the reason).
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
