"""What the handlers share: the model store, A/B routing, the prediction log, metrics, and request decoding."""

from __future__ import annotations

import collections
import hashlib
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from taxi_assets.features.columns import FEATURES
from taxi_assets.platform_db.prediction_log import CHALLENGER_ARM, CHAMPION_ARM, SHADOW_ARM, SHADOW_SUFFIX, LogRow
from taxi_assets.registry.rollout import AB, GUARDRAIL, SHADOW
from taxi_serving.contract import CLIENT_ID, CLIENT_ID_MAX, printable, without_control
from taxi_serving.errors import InvalidRequestError, MalformedBodyError, NoModelError
from taxi_serving.explanations import explanation, wants_explanation
from taxi_serving.metrics import ApiMetrics
from taxi_serving.model_store import LoadedModel, ModelStore
from taxi_serving.prediction_log.sink import PredictionLogSink
from taxi_serving.schemas import FieldError, Prediction
from taxi_serving.settings import Settings

_BUCKETS: Final = 10_000
_RANDOM_BYTES: Final = 10
_IDS_PER_DRAW: Final = 256
# random parts of request ids drawn ahead (a deque: popleft and extend are atomic, so threads may share it)
_random_parts: collections.deque[str] = collections.deque()
# the second ``now_iso`` formatted last: (seconds since the epoch, "YYYY-MM-DDTHH:MM:SS")
_second_prefix: tuple[int, str] = (-1, "")
_decoder = msgspec.json.Decoder()


@dataclass(frozen=True)
class Routed:
    """The model that answers a request, and its arm."""

    arm: str
    model: LoadedModel


class Serving:
    """One API process's state."""

    def __init__(self, settings: Settings, store: ModelStore, sink: PredictionLogSink, metrics: ApiMetrics) -> None:
        self.settings = settings
        self.store = store
        self.sink = sink
        self.metrics = metrics
        # the OpenAPI document per champion version (its profile narrows three ranges), built when first asked
        self.documents: dict[str | None, bytes] = {}

    def champion(self) -> LoadedModel:
        """The loaded champion, or 503."""
        champion = self.store.champion
        if champion is None:
            raise NoModelError(f"no champion of {self.settings.model_name} is loaded yet")
        return champion

    def route(self, client_id: str | None, request_id: str) -> Routed:
        """Champion or challenger: a stable hash of the client id (or the request id) picks the arm."""
        champion = self.champion()
        challenger = self.store.challenger
        share = self.challenger_share()
        if challenger is None or share <= 0 or self.shadow_model() is not None:
            return Routed(CHAMPION_ARM, champion)
        digest = hashlib.blake2b((client_id or request_id).encode(), digest_size=8).digest()
        bucket = int.from_bytes(digest, "big") % _BUCKETS
        return Routed(CHALLENGER_ARM, challenger) if bucket < share * _BUCKETS else Routed(CHAMPION_ARM, champion)

    def predict_one(self, raw: bytes, query: bytes = b"") -> Prediction:
        """Decode, validate, route, score (and explain: ``explain=true`` in ``query``) and log one trip, or raise."""
        started = time.perf_counter()
        request_id = new_request_id()
        try:
            body = self.decode(raw)
        except MalformedBodyError:
            self.log_malformed("/predict", request_id, started)
            raise
        champion = self.champion()
        errors = champion.validator.errors(body, extra=frozenset({CLIENT_ID}))
        client_id = body.get(CLIENT_ID) if isinstance(body, dict) else None
        errors += client_id_errors(client_id)
        explain = wants_explanation(query, errors)
        if errors:
            raise self.reject("/predict", request_id, body, errors, started)
        routed = self.route(client_id, request_id)
        fare = routed.model.model.predict_row(body)
        why = explanation(routed.model, body, fare) if explain else None
        latency_ms = (time.perf_counter() - started) * 1000
        version, served_at = routed.model.version, now_iso()
        self.sink.submit(
            log_row(
                request_id=request_id,
                endpoint="/predict",
                status="ok",
                status_code=200,
                features=body,
                client_id=client_id,
                arm=routed.arm,
                model_version=version,
                prediction=fare,
                latency_ms=latency_ms,
                logged_at=as_log_time(served_at),
            )
        )
        shadow = self.shadow_model()
        if shadow is not None:
            self.sink.submit(
                log_row(
                    request_id=f"{request_id}{SHADOW_SUFFIX}",
                    endpoint="/predict",
                    status="ok",
                    status_code=200,
                    features=body,
                    client_id=client_id,
                    arm=SHADOW_ARM,
                    model_version=shadow.version,
                    prediction=shadow.model.predict_row(body),
                )
            )
        self.metrics.count_predictions(routed.arm, version, "/predict", latency_ms / 1000)
        return Prediction(
            request_id=request_id,
            fare=fare,
            model_version=version,
            arm=routed.arm,
            served_at=served_at,
            explanation=why,
        )

    def challenger_share(self) -> float:
        """The share of clients the challenger answers: ``TAXI_CHALLENGER_SHARE``, else its A/B stage's share."""
        stage = self.store.stage
        if self.settings.challenger_share > 0 or not self.settings.follow_rollout or stage is None:
            return self.settings.challenger_share
        return stage.share if stage.name == AB else 0.0

    def shadow_model(self) -> LoadedModel | None:
        """The challenger, when it is scored on every request: ``TAXI_SHADOW``, or its shadow or guardrail stage."""
        stage = self.store.stage
        following = self.settings.follow_rollout and stage is not None and stage.name in (SHADOW, GUARDRAIL)
        return self.store.challenger if self.settings.shadow or following else None

    @staticmethod
    def decode(body: bytes) -> Any:
        """JSON bytes -> Python values, or 400 (not JSON, not UTF-8, a number beyond a double, nested too deep)."""
        try:
            return _decoder.decode(body)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise MalformedBodyError("the request body is not valid JSON (UTF-8, numbers within a double)") from exc
        except RecursionError as exc:
            raise MalformedBodyError("the request body is nested too deeply") from exc

    def reject(
        self, endpoint: str, request_id: str, body: Any, errors: list[FieldError], started: float
    ) -> InvalidRequestError:
        """Count and log a rejected request; return the 422 to raise."""
        for error in errors:
            self.metrics.count_validation_failure(error.field)
        features = body if isinstance(body, dict) else {}
        self.sink.submit(
            log_row(
                request_id=request_id,
                endpoint=endpoint,
                status="rejected",
                status_code=422,
                reason="validation_failed",
                field=",".join(error.field for error in errors[:20]),
                features=features,
                latency_ms=(time.perf_counter() - started) * 1000,
            )
        )
        return InvalidRequestError(f"{len(errors)} field(s) failed validation", errors)

    def log_malformed(self, endpoint: str, request_id: str, started: float) -> None:
        """Rejected because the body was not JSON: logged too, it is a client-side signal."""
        self.sink.submit(
            log_row(
                request_id=request_id,
                endpoint=endpoint,
                status="rejected",
                status_code=400,
                reason="malformed_json",
                latency_ms=(time.perf_counter() - started) * 1000,
            )
        )


def client_id_errors(client_id: object) -> list[FieldError]:
    """``client_id`` is optional; when given, a string of at most ``CLIENT_ID_MAX`` characters, none a control one."""
    if client_id is None or (isinstance(client_id, str) and len(client_id) <= CLIENT_ID_MAX and printable(client_id)):
        return []
    shown = len(client_id) if isinstance(client_id, str) else None
    constraint = f"a string of at most {CLIENT_ID_MAX} characters, without control characters"
    return [FieldError(field=CLIENT_ID, value=shown, constraint=constraint)]


def new_request_id() -> str:
    """A fresh request id: 32 hex digits, the time in milliseconds (48 bits) then 80 random bits.

    Ids that grow with time are appended at the end of the log's unique index instead of at a random place in
    it, which halves the database's cost of each insert (``make bench-serve``); the 80 random bits, from the
    operating system's generator, keep them unguessable. The random bytes are drawn in blocks: one system call
    for every ``_IDS_PER_DRAW`` ids.
    """
    try:
        random = _random_parts.popleft()
    except IndexError:
        block = os.urandom(_RANDOM_BYTES * _IDS_PER_DRAW).hex()
        step = _RANDOM_BYTES * 2
        _random_parts.extend(block[start : start + step] for start in range(step, len(block), step))
        random = block[:step]
    return f"{time.time_ns() // 1_000_000:012x}{random}"


def now_iso() -> str:
    """UTC now, ISO 8601 with microseconds (``served_at``; ``as_log_time`` turns it into the log's form).

    The date and time to the second are formatted once a second, the microseconds on each call: a third of
    ``datetime.now(UTC).isoformat()``'s cost, and the same text.
    """
    global _second_prefix
    seconds, micros = divmod(time.time_ns() // 1_000, 1_000_000)
    prefix = _second_prefix
    if prefix[0] != seconds:
        prefix = _second_prefix = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
    return f"{prefix[1]}.{micros:06d}+00:00"


def as_log_time(iso: str) -> str:
    """An ``now_iso`` string in the log's text form (same instant, one clock read per request)."""
    return iso.replace("T", " ", 1)


def log_time() -> str:
    """Now in UTC as the log stores it: SQLite's text form, with an offset PostgreSQL reads as UTC."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00:00")


def log_row(
    *,
    request_id: str,
    endpoint: str,
    status: str,
    status_code: int,
    features: dict[str, Any] | None = None,
    reason: str | None = None,
    field: str | None = None,
    client_id: str | None = None,
    arm: str | None = None,
    model_version: str | None = None,
    prediction: float | None = None,
    latency_ms: float | None = None,
    logged_at: str | None = None,
    service: str | None = None,
) -> LogRow:
    """One prediction_log row as a tuple in ``LOG_COLUMNS`` order; the writer hands it to the driver as is.

    Features that are not plain scalars are stored as null. Without ``service`` the writer stamps its own.
    """
    features = features or {}
    values: list[Any] = [
        request_id,
        logged_at or log_time(),
        endpoint,
        status,
        status_code,
        reason,
        # text from a refused request may hold anything: no control character reaches the database (PostgreSQL
        # refuses NUL, which would send the row to the quarantine instead of the log)
        without_control(field) if field else field,
        without_control(client_id) if isinstance(client_id, str) and len(client_id) <= CLIENT_ID_MAX else None,
        arm,
        model_version,
    ]
    for name in FEATURES:
        value = features.get(name)
        if name.endswith("borough"):
            values.append(without_control(value)[:32] if isinstance(value, str) else None)
        else:
            values.append(_as_float(value))
    values += [prediction, latency_ms, None, None, service]
    return tuple(values)


def _as_float(value: object) -> float | None:
    """A JSON number as a float for the log; anything else, or an integer beyond a double, as null."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:
        return None
