"""One controller per resource (the single-trip ``POST /predict`` is ``predict_route.py``). Bodies are read raw.

A single-row prediction takes about 10 microseconds, less than handing it to a thread would, so it runs on the
event loop; batches and database calls run in worker threads.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import pandas as pd
from litestar import Controller, Request, Response, get, post
from prometheus_client import CONTENT_TYPE_LATEST

from taxi_assets.features.columns import FEATURES
from taxi_serving.auth import require_api_key
from taxi_serving.contract import REQUEST_ID_MAX, printable
from taxi_serving.errors import (
    ConflictError,
    InvalidRequestError,
    LogUnavailableError,
    MalformedBodyError,
    NotFoundError,
)
from taxi_serving.prediction_log.sink import LogStoreDownError
from taxi_serving.schemas import (
    BatchResponse,
    FeedbackResponse,
    FieldError,
    Health,
    ModelDescription,
    ModelInfo,
    Prediction,
    Readiness,
)
from taxi_serving.service import (
    CLIENT_ID,
    Serving,
    as_log_time,
    client_id_errors,
    log_row,
    new_request_id,
    now_iso,
)
from taxi_serving.validation import DEFAULT_VALIDATOR, TripValidator


def serving_of(request: Request) -> Serving:
    """The process's serving state (read from app state: cheaper per request than a DI provider)."""
    serving: Serving = request.app.state.serving
    return serving


class PredictionController(Controller):
    """Fare predictions for a batch of trips."""

    path = "/predict"
    guards = [require_api_key]
    response_headers = {"Cache-Control": "no-store"}

    @post("/batch", status_code=200)
    async def predict_batch(self, request: Request) -> BatchResponse:
        """Price up to the configured number of trips; the whole batch is rejected if any trip is invalid."""
        serving = serving_of(request)
        started = time.perf_counter()
        batch_id = new_request_id()
        body = await _body(request, serving, "/predict/batch", batch_id, started)
        champion = serving.champion()
        errors = _batch_errors(body, serving, champion.validator)
        if errors:
            raise serving.reject("/predict/batch", batch_id, {}, errors, started)
        trips: list[dict[str, Any]] = body["trips"]
        client_id = body.get(CLIENT_ID)
        routed = serving.route(client_id, batch_id)
        frame = pd.DataFrame(trips, columns=list(FEATURES))
        fares = await anyio.to_thread.run_sync(routed.model.model.predict, frame)
        served_at, version = now_iso(), routed.model.version
        latency_ms = (time.perf_counter() - started) * 1000
        predictions, logged_at = [], as_log_time(served_at)  # one instant for the whole batch
        for index, (trip, fare) in enumerate(zip(trips, fares.tolist(), strict=True)):
            request_id = f"{batch_id}-{index}"
            predictions.append(
                Prediction(request_id=request_id, fare=fare, model_version=version, arm=routed.arm, served_at=served_at)
            )
            serving.sink.submit(
                log_row(
                    request_id=request_id,
                    endpoint="/predict/batch",
                    status="ok",
                    status_code=200,
                    features=trip,
                    client_id=client_id,
                    arm=routed.arm,
                    model_version=version,
                    prediction=fare,
                    latency_ms=latency_ms,
                    logged_at=logged_at,
                )
            )
        serving.metrics.count_predictions(routed.arm, version, "/predict/batch", latency_ms / 1000, len(trips))
        return BatchResponse(predictions=predictions)


class FeedbackController(Controller):
    """Ground truth for earlier predictions."""

    path = "/feedback"
    guards = [require_api_key]
    response_headers = {"Cache-Control": "no-store"}

    @post("", status_code=200)
    async def feedback(self, request: Request) -> FeedbackResponse:
        """Join the fare actually charged to the logged prediction (404 unknown id, 409 already joined)."""
        serving = serving_of(request)
        started = time.perf_counter()
        body = await _body(request, serving, "/feedback", new_request_id(), started, log=False)
        champion = serving.store.champion
        errors = _feedback_errors(body, champion.validator if champion else DEFAULT_VALIDATOR)
        if errors:
            raise InvalidRequestError(f"{len(errors)} field(s) failed validation", errors)
        request_id, actual = str(body["request_id"]), float(body["actual_fare"])
        outcome, prediction = await anyio.to_thread.run_sync(_join, serving, request_id, actual)
        if outcome == "missing":
            raise NotFoundError(f"no logged prediction has request_id {request_id!r}")
        if outcome == "conflict":
            raise ConflictError(f"feedback for request_id {request_id!r} was already recorded")
        assert prediction is not None  # "ok" always carries the prediction
        serving.metrics.latency.labels(endpoint="/feedback", model_version="").observe(time.perf_counter() - started)
        return FeedbackResponse(
            request_id=request_id, prediction=prediction, actual_fare=actual, error=prediction - actual
        )


class ModelController(Controller):
    """The models serving traffic."""

    path = "/model"
    guards = [require_api_key]

    @get("", operation_id="model_info")
    async def model_info(self, request: Request) -> ModelInfo:
        """Champion and challenger versions, their metrics, and the traffic split."""
        serving = serving_of(request)

        def describe(loaded: Any) -> ModelDescription | None:
            if loaded is None:
                return None
            return ModelDescription(
                alias=loaded.alias,
                version=loaded.version,
                loaded_at=loaded.loaded_at.isoformat(),
                source=loaded.source,
                metrics=loaded.metrics,
            )

        return ModelInfo(
            model_name=serving.settings.model_name,
            champion=describe(serving.store.champion),
            challenger=describe(serving.store.challenger),
            challenger_share=serving.challenger_share(),
            shadow=serving.shadow_model() is not None,
            rollout_stage=serving.store.stage.name if serving.store.stage else None,
        )


class HealthController(Controller):
    """Liveness, readiness and metrics (no API key needed)."""

    path = ""

    @get("/healthz", operation_id="healthz")
    async def healthz(self) -> Health:
        """The process is alive."""
        return Health(status="ok")

    @get("/readyz", operation_id="readyz")
    async def readyz(self, request: Request) -> Response[Readiness]:
        """200 when a champion is loaded and its files are in place, 503 otherwise; says which and from where."""
        serving = serving_of(request)
        champion = serving.store.champion
        files_ok = champion is not None and (champion.cache_path / "model.onnx").exists()
        sink = serving.sink
        if champion is None:
            detail = "no champion loaded yet" + (
                "; the model registry is unreachable" if serving.store.last_error else ""
            )
        elif not files_ok:
            detail = "the champion's model file is missing from the local cache"
        elif not serving.store.registry_reachable:
            detail = "serving the last loaded champion; the model registry is unreachable"
        else:
            detail = "ready"
        problem = sink.counters.store_problem
        journal = sink.writer.problem()
        if journal:  # a full disk: answers would be 503 (never 200 without a record), so send no traffic here
            detail += f"; {journal}"
        if problem:
            detail += f"; the log database refuses this API's rows ({problem}), {sink.backlog} record(s) wait"
        elif not sink.counters.database_ok:
            detail += f"; the log database is unreachable, {sink.backlog} record(s) wait in the journal"
        ready = files_ok and not problem and not journal  # an operator must fix the database, or the disk
        readiness = Readiness(
            ready=ready,
            model_name=serving.settings.model_name,
            champion_version=champion.version if champion else None,
            loaded_at=champion.loaded_at.isoformat() if champion else None,
            source=champion.source if champion else None,
            registry_reachable=serving.store.registry_reachable,
            log_store_reachable=sink.counters.database_ok,
            log_backlog=sink.backlog,
            log_quarantined=int(serving.metrics.counter_total("taxi_api_log_rows_quarantined")),
            detail=detail,
        )
        return Response(readiness, status_code=200 if ready else 503)

    @get("/metrics", operation_id="metrics", media_type=CONTENT_TYPE_LATEST)
    async def metrics(self, request: Request) -> Response[bytes]:
        """Prometheus text format."""
        serving = serving_of(request)
        return Response(serving.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


async def _body(
    request: Request,
    serving: Serving,
    endpoint: str,
    request_id: str,
    started: float,
    log: bool = True,
) -> Any:
    try:
        return serving.decode(await request.body())
    except MalformedBodyError:
        if log:
            serving.log_malformed(endpoint, request_id, started)
        raise


def _batch_errors(body: Any, serving: Serving, validator: Any) -> list[FieldError]:
    limit = serving.settings.batch_limit
    if not isinstance(body, dict):
        return [FieldError(field="body", value=None, constraint='an object {"trips": [...]}')]
    errors = [
        FieldError(field=key, value=None, constraint="not an accepted field")
        for key in body
        if key not in {"trips", CLIENT_ID}
    ]
    errors += client_id_errors(body.get(CLIENT_ID))
    trips = body.get("trips")
    if not isinstance(trips, list) or not 1 <= len(trips) <= limit:
        size = len(trips) if isinstance(trips, list) else None
        errors.append(FieldError(field="trips", value=size, constraint=f"a list of 1 to {limit} trips"))
        return errors
    for index, trip in enumerate(trips):
        errors += validator.errors(trip, prefix=f"trips[{index}].")
        if len(errors) >= 100:
            break
    return errors


def _feedback_errors(body: Any, validator: TripValidator) -> list[FieldError]:
    if not isinstance(body, dict):
        return [FieldError(field="body", value=None, constraint='an object {"request_id": ..., "actual_fare": ...}')]
    errors = [
        FieldError(field=key, value=None, constraint="not an accepted field")
        for key in body
        if key not in {"request_id", "actual_fare"}
    ]
    request_id = body.get("request_id")
    if not isinstance(request_id, str) or not 1 <= len(request_id) <= REQUEST_ID_MAX or not printable(request_id):
        constraint = f"a string of 1 to {REQUEST_ID_MAX} characters, without control characters"
        errors.append(FieldError(field="request_id", value=None, constraint=constraint))
    # the fare rule training kept its rows by: a true fare outside it would be judged on trips never trained for
    return errors + validator.fare_errors(body.get("actual_fare"))


def _join(serving: Serving, request_id: str, actual: float) -> tuple[str, float | None]:
    """The feedback's outcome; with the log database down it is journaled (applied later) and the answer is 503."""
    try:
        outcome = serving.sink.record_feedback(request_id, actual)
        if outcome[0] == "missing":
            # the prediction may still wait in this worker's journal (or another's): let the writers catch up
            serving.sink.flush(timeout=2 * serving.settings.log_flush_seconds + 1)
            time.sleep(serving.settings.log_flush_seconds)
            outcome = serving.sink.record_feedback(request_id, actual)
    except LogStoreDownError:
        serving.sink.submit_feedback(request_id, actual)
        raise LogUnavailableError(
            "the prediction log is unreachable; the feedback was journaled and will be joined when it answers"
        ) from None
    return outcome
