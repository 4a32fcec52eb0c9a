"""Prometheus metrics of one API process (each app gets its own registry, so tests stay independent)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from taxi_assets.modeling.features import FEATURES

# the field names a validation failure can be counted under: a bounded label set, whatever clients send
KNOWN_FIELDS: Final = frozenset({*FEATURES, "client_id", "trips", "body", "request_id", "actual_fare"})
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
        self.log_queue = Gauge("taxi_api_log_backlog", "Journaled records not yet in the database.", registry=r)
        self.log_written = Gauge("taxi_api_log_rows_written", "Prediction log rows written.", registry=r)
        self.log_quarantined = Gauge(
            "taxi_api_log_rows_quarantined", "Records the database refused, kept with the reason.", registry=r
        )
        self.log_adopted = Gauge(
            "taxi_api_log_rows_adopted", "Rows shipped from a stopped worker's journal.", registry=r
        )
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

    def count_validation_failure(self, field: str) -> None:
        """Count a rejected field under its feature name; any name the API does not know counts as one label."""
        name = field.rsplit(".", 1)[-1].split("[", 1)[0]
        self.validation_failures.labels(field=name if name in KNOWN_FIELDS else "unknown_field").inc()

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
        self.log_quarantined.set_function(lambda: counters()["quarantined"])
        self.log_adopted.set_function(lambda: counters()["adopted"])
        self.log_db_up.set_function(lambda: counters()["database_ok"])
