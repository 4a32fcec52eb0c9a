"""Prometheus metrics of one API process (each app gets its own registry, so tests stay independent)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ApiMetrics:
    """Every metric the API exports."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.latency = Histogram(
            "taxi_api_request_seconds",
            "Request latency.",
            ["endpoint", "model_version"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.predictions = Counter("taxi_api_predictions", "Predictions served.", ["arm", "model_version"], registry=r)
        self.errors = Counter("taxi_api_errors", "4xx and 5xx responses.", ["status", "reason"], registry=r)
        self.validation_failures = Counter(
            "taxi_api_validation_failures", "Rejected values per field.", ["field"], registry=r
        )
        self.model_reloads = Gauge("taxi_api_model_reloads", "Model versions loaded since start.", registry=r)
        self.registry_up = Gauge("taxi_api_registry_reachable", "1 if the last registry poll succeeded.", registry=r)
        self.log_queue = Gauge("taxi_api_log_queue_depth", "Prediction log rows waiting.", registry=r)
        self.log_written = Gauge("taxi_api_log_rows_written", "Prediction log rows written.", registry=r)
        self.log_spilled = Gauge("taxi_api_log_rows_spilled", "Rows spilled to the local file.", registry=r)
        self.log_overflowed = Gauge("taxi_api_log_rows_overflowed", "Rows that found the queue full.", registry=r)
        self.log_db_up = Gauge("taxi_api_log_store_reachable", "1 if the last log write succeeded.", registry=r)
        self._children: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}

    def count_predictions(self, arm: str, model_version: str, endpoint: str, seconds: float, rows: int = 1) -> None:
        """Count served predictions and their latency (label children cached: this runs on every request)."""
        key = (arm, model_version, endpoint)
        children = self._children.get(key)
        if children is None:
            children = (
                self.predictions.labels(arm=arm, model_version=model_version),
                self.latency.labels(endpoint=endpoint, model_version=model_version),
            )
            self._children[key] = children
        children[0].inc(rows)
        children[1].observe(seconds)

    def bind(
        self,
        queue_depth: Callable[[], float],
        counters: Callable[[], dict[str, float]],
        reloads: Callable[[], float],
        registry_up: Callable[[], float],
    ) -> None:
        """Gauges read their value when scraped."""
        self.log_queue.set_function(queue_depth)
        self.model_reloads.set_function(reloads)
        self.registry_up.set_function(registry_up)
        self.log_written.set_function(lambda: counters()["written"])
        self.log_spilled.set_function(lambda: counters()["spilled"])
        self.log_overflowed.set_function(lambda: counters()["overflowed"])
        self.log_db_up.set_function(lambda: counters()["database_ok"])
