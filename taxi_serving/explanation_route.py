"""``GET /predictions/{request_id}/explanation``: why a logged fare was what it was, asked later.

The prediction log keeps every answered trip's features and the model version that priced it. This endpoint reads
that row and explains it with that version's own trees: the champion or the challenger as loaded, or any older
version loaded from the registry once and kept (a few at a time). The base fare, the contributions and the floor's
share add up to the fare that was returned then. A prediction answered a moment ago may still be on its way to
the database: the lookup waits for this worker's log to ship once before it says 404.
"""

from __future__ import annotations

import collections
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import anyio
import sqlalchemy as sa
from litestar import Controller, Request, get
from litestar.params import FromPath

from taxi_assets.features.columns import FEATURES, INTEGER_FEATURES
from taxi_assets.model.versions import ModelRegistry
from taxi_assets.platform_db.prediction_log import PREDICTION_LOG
from taxi_serving.auth import require_api_key
from taxi_serving.contract import REQUEST_ID_MAX, printable
from taxi_serving.controllers import serving_of
from taxi_serving.errors import ConflictError, InvalidRequestError, LogUnavailableError, NotFoundError
from taxi_serving.explanations import explanation
from taxi_serving.model_store import REGISTRY_ERRORS, LoadedModel
from taxi_serving.prediction_log.store import DRIVER_ERRORS
from taxi_serving.schemas import FieldError, LoggedExplanation
from taxi_serving.service import Serving
from taxi_serving.validation import TripValidator

# older versions kept loaded for explanations, the most recently asked first out last
KEPT_VERSIONS: Final = 4


@dataclass(frozen=True)
class LoggedPrediction:
    """What the log holds of one request: its version, its fare (None if refused) and its features."""

    model_version: str | None
    prediction: float | None
    logged_at: datetime | str
    trip: dict[str, Any]


class ExplainingVersions:
    """The versions that can explain a logged fare: the served ones, else loaded from the registry and kept."""

    def __init__(self, serving: Serving) -> None:
        self.serving = serving
        self._kept: collections.OrderedDict[str, LoadedModel] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, version: str) -> LoadedModel:
        """The loaded model of ``version`` (blocking: run it in a thread)."""
        store = self.serving.store
        for loaded in (store.champion, store.challenger):
            if loaded is not None and loaded.version == version:
                return loaded
        with self._lock:
            if version in self._kept:
                self._kept.move_to_end(version)
                return self._kept[version]
            try:
                wrapper = ModelRegistry(store.tracking_uri).load_pyfunc(store.model_name, version)
            except REGISTRY_ERRORS as exc:
                raise LogUnavailableError(
                    f"model version {version} is not loaded here and the model registry cannot be reached to load "
                    f"it ({type(exc).__name__}); try again later"
                ) from None
            assert wrapper.model is not None  # load_pyfunc checked it
            loaded = LoadedModel(
                alias="explained",
                version=version,
                model=wrapper.model,
                validator=TripValidator(wrapper.profile),
                metrics={},
                loaded_at=datetime.now(UTC),
                source=f"models:/{store.model_name}/{version}",
                cache_path=store.cache_dir,
                explainer=wrapper.explainer,
            )
            self._kept[version] = loaded
            while len(self._kept) > KEPT_VERSIONS:
                self._kept.popitem(last=False)
            return loaded


def logged_prediction(serving: Serving, request_id: str) -> LoggedPrediction | None:
    """The logged row of ``request_id``; when absent and issued a moment ago, once more after the log shipped."""
    found = _read(serving, request_id)
    if found is None and issued_recently(request_id):
        serving.sink.flush(timeout=2 * serving.settings.log_flush_seconds + 1)
        time.sleep(serving.settings.log_flush_seconds)
        found = _read(serving, request_id)
    return found


# a request id this API issued: 12 hex digits of milliseconds, 20 random ones, and a trip's index in a batch
_ISSUED: Final = re.compile(r"[0-9a-f]{32}(-[0-9]{1,4})?")
RECENT_SECONDS: Final = 60.0


def issued_recently(request_id: str) -> bool:
    """Whether ``request_id`` has this API's form and was issued under ``RECENT_SECONDS`` ago.

    Such a prediction may not have reached the database yet; any other id that is not in the log never will be.
    """
    if _ISSUED.fullmatch(request_id) is None:
        return False
    age_ms = time.time_ns() // 1_000_000 - int(request_id[:12], 16)
    return -1_000 <= age_ms <= RECENT_SECONDS * 1_000


def _read(serving: Serving, request_id: str) -> LoggedPrediction | None:
    table = PREDICTION_LOG
    columns = [table.c.model_version, table.c.prediction, table.c.logged_at, *(table.c[name] for name in FEATURES)]
    try:
        with serving.sink.store.engine.connect() as connection:
            row = connection.execute(sa.select(*columns).where(table.c.request_id == request_id)).first()
    except (sa.exc.SQLAlchemyError, *DRIVER_ERRORS) as exc:
        raise LogUnavailableError(f"the prediction log cannot be read now ({type(exc).__name__})") from None
    if row is None:
        return None
    trip = {name: row._mapping[name] for name in FEATURES}
    for name in INTEGER_FEATURES:
        value = trip[name]
        trip[name] = int(value) if isinstance(value, float) and value.is_integer() else value
    prediction = None if row.prediction is None else float(row.prediction)
    return LoggedPrediction(row.model_version, prediction, row.logged_at, trip)


def request_id_errors(request_id: str) -> list[FieldError]:
    """The path's request id against the rule every request id follows."""
    if 1 <= len(request_id) <= REQUEST_ID_MAX and printable(request_id):
        return []
    constraint = f"a string of 1 to {REQUEST_ID_MAX} characters, without control characters"
    return [FieldError(field="request_id", value=request_id[:REQUEST_ID_MAX], constraint=constraint)]


class ExplanationController(Controller):
    """Explanations of logged predictions."""

    path = "/predictions"
    guards = [require_api_key]
    response_headers = {"Cache-Control": "no-store"}

    @get("/{request_id:str}/explanation", operation_id="explain_logged")
    async def explain_logged(self, request: Request, request_id: FromPath[str]) -> LoggedExplanation:
        """Why the logged prediction ``request_id`` had its fare, by the version that served it."""
        serving = serving_of(request)
        errors = request_id_errors(request_id)
        if errors:
            raise InvalidRequestError("1 field(s) failed validation", errors)
        logged = await anyio.to_thread.run_sync(logged_prediction, serving, request_id)
        if logged is None:
            raise NotFoundError(f"no logged prediction has request_id {request_id!r}")
        if logged.prediction is None or logged.model_version is None:
            raise ConflictError(f"request {request_id!r} was refused, so no fare was returned to explain")
        versions: ExplainingVersions = request.app.state["explaining_versions"]
        model = await anyio.to_thread.run_sync(versions.get, logged.model_version)
        return LoggedExplanation(
            request_id=request_id,
            model_version=logged.model_version,
            fare=logged.prediction,
            logged_at=str(logged.logged_at),
            trip=logged.trip,
            explanation=explanation(model, logged.trip, logged.prediction),
        )
