"""The Litestar app: ``create_app(settings)``; ``app_from_env`` is the uvicorn factory ``make serve`` uses."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable

import anyio
from litestar import Litestar
from litestar.datastructures import State
from litestar.exceptions import HTTPException

from taxi_assets import logs
from taxi_serving.auth import ApiKeys
from taxi_serving.controllers import (
    FeedbackController,
    HealthController,
    ModelController,
    PredictionController,
)
from taxi_serving.docs import DocsController
from taxi_serving.errors import (
    ApiError,
    api_error_handler,
    http_exception_handler,
    internal_error_handler,
    journal_error_handler,
)
from taxi_serving.explanation_route import ExplainingVersions, ExplanationController
from taxi_serving.metrics import ApiMetrics
from taxi_serving.model_store import ModelStore
from taxi_serving.predict_route import predict_route
from taxi_serving.prediction_log.journal import JournalUnavailableError
from taxi_serving.prediction_log.sink import PredictionLogSink
from taxi_serving.service import Serving
from taxi_serving.settings import Settings, launcher_from_env, settings_from_env

log = logging.getLogger("taxi_serving")


def create_app(settings: Settings) -> Litestar:
    """Build the API for ``settings``; nothing connects until the app starts.

    The MLflow client reads its retry policy from the environment at each call: the API process sets it from
    ``settings`` (a registry that does not answer costs at most (retries + 1) x timeout + backoff per poll).
    """
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = str(settings.registry_retries)
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = f"{settings.registry_timeout_seconds:g}"
    os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] = "1"
    serving = _serving(settings)
    if not settings.api_keys and settings.api_keys_file is None:
        log.error("no API keys configured (TAXI_API_KEYS): every protected endpoint will answer 401")
    return Litestar(
        route_handlers=[
            predict_route,
            PredictionController,
            FeedbackController,
            ModelController,
            HealthController,
            ExplanationController,
            DocsController,
        ],
        lifespan=[_lifespan(serving, settings.poll_interval_seconds)],
        state=State(
            {
                "serving": serving,
                "api_keys": ApiKeys(settings.api_keys, settings.api_keys_file),
                "explaining_versions": ExplainingVersions(serving),
            }
        ),
        exception_handlers={
            ApiError: api_error_handler,
            HTTPException: http_exception_handler,
            JournalUnavailableError: journal_error_handler,
            Exception: internal_error_handler,
        },
        request_max_body_size=settings.max_body_bytes,
        openapi_config=None,  # contract.py writes the document; docs.py serves it
        response_headers={"X-Content-Type-Options": "nosniff"},  # errors: errors.error_response
        debug=False,
        logging_config=None,  # one setup for the process (taxi_assets.logs), not Litestar's own root handler
    )


def _serving(settings: Settings) -> Serving:
    """The model store, the prediction log and the metrics of one worker, wired together."""
    metrics = ApiMetrics()
    store = ModelStore(
        settings.tracking_uri,
        settings.model_name,
        settings.cache_dir,
        with_challenger=settings.challenger_share > 0 or settings.shadow or settings.follow_rollout,
    )
    sink = PredictionLogSink(
        settings.database_url,
        settings.journal_dir,
        batch_size=settings.log_batch_size,
        flush_seconds=settings.log_flush_seconds,
        replay_seconds=settings.replay_seconds,
        fsync_seconds=settings.log_fsync_seconds,
        durable=settings.log_durable,
        service=settings.service,
    )
    sink.alerts.targets = settings.alert_urls
    metrics.bind(
        lambda: {
            "written": sink.counters.written,
            "quarantined": sink.counters.quarantined,
            "adopted": sink.counters.adopted,
            "reloads": store.reloads,
            "backlog": sink.backlog,
            "database_ok": float(sink.counters.database_ok),
            "registry_up": float(store.registry_reachable),
        }
    )
    return Serving(settings, store, sink, metrics)


def _lifespan(
    serving: Serving, poll_seconds: float
) -> Callable[[Litestar], contextlib.AbstractAsyncContextManager[None]]:
    """Start the log shipper and the model store with the app; poll the aliases and refresh metrics while it runs."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        serving.sink.start()
        await anyio.to_thread.run_sync(serving.store.start)
        tasks = [
            asyncio.create_task(_poll(serving.store, poll_seconds)),
            asyncio.create_task(_refresh_metrics(serving.metrics)),
        ]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await anyio.to_thread.run_sync(serving.sink.stop)
            serving.metrics.refresh()

    return lifespan


async def _poll(store: ModelStore, interval: float) -> None:
    """Re-resolve the aliases every ``interval`` seconds; loads happen in a worker thread."""
    while True:
        await asyncio.sleep(interval)
        await anyio.to_thread.run_sync(store.refresh)


async def _refresh_metrics(metrics: ApiMetrics) -> None:
    """Every second, this worker's log and registry figures go where every worker's scrape reads them."""
    while True:
        await asyncio.sleep(1.0)
        metrics.refresh()


def app_from_env() -> Litestar:
    """The uvicorn factory: ``uvicorn --factory taxi_serving.app:app_from_env``."""
    launcher = launcher_from_env(os.environ)
    logs.configure(launcher.log_format, launcher.log_level)
    return create_app(settings_from_env(os.environ))
