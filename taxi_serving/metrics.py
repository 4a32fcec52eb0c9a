"""Prometheus metrics of the API, summed over its worker processes.

Under ``python -m taxi_serving`` (``PROMETHEUS_MULTIPROC_DIR`` set) every worker writes its values to files in one
folder and a scrape of any worker reads them all: counters add up over workers and never go back, even when a
worker is replaced (a dead worker's counts stay in its files). Predictions and their latency are added up in
memory on the request path and written to the files every second (and by the scraped worker at the scrape), so
a scrape may miss the other workers' last second. Gauges of the log and the registry are kept per
live worker and combined (backlog: summed; reachability: the minimum, so one worker that cannot reach its
database shows). Without the folder (tests, one process) each app has a registry of its own.

Label values are bounded: endpoints, arms, versions, statuses and reasons come from the code, and a validation
failure is counted under a feature name or ``unknown_field``.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

from taxi_assets.features.columns import FEATURES
from taxi_serving.processes import alive

# the field names a validation failure can be counted under: a bounded label set, whatever clients send
KNOWN_FIELDS: Final = frozenset({*FEATURES, "client_id", "trips", "body", "request_id", "actual_fare", "explain"})
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
MULTIPROCESS_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
_LIVE_FILE: Final = re.compile(r"^gauge_live\w+_(\d+)\.db$")


class ApiMetrics:
    """Every metric the API exports."""

    def __init__(self) -> None:
        self.multiprocess_dir = os.environ.get(MULTIPROCESS_ENV)
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
        self.model_reloads = Counter("taxi_api_model_reloads", "Model versions loaded.", registry=r)
        self.log_written = Counter("taxi_api_log_rows_written", "Prediction log rows written.", registry=r)
        self.log_quarantined = Counter(
            "taxi_api_log_rows_quarantined", "Records the database refused, kept with the reason.", registry=r
        )
        self.log_adopted = Counter(
            "taxi_api_log_rows_adopted", "Rows shipped from a stopped worker's journal.", registry=r
        )
        self.log_backlog = Gauge(
            "taxi_api_log_backlog",
            "Journaled records not yet in the database.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.registry_up = Gauge(
            "taxi_api_registry_reachable",
            "1 if the last registry poll succeeded.",
            registry=r,
            multiprocess_mode="livemin",
        )
        self.log_db_up = Gauge(
            "taxi_api_log_store_reachable",
            "1 if the last log write succeeded.",
            registry=r,
            multiprocess_mode="livemin",
        )
        # per (arm, version, endpoint): rows, latency sum, then one count per latency bucket (+Inf last)
        self._pending: dict[tuple[str, str, str], list[float]] = {}
        self._snapshot: Callable[[], dict[str, float]] = dict
        self._seen: dict[str, float] = {}
        if self.multiprocess_dir:
            forget_dead_workers(Path(self.multiprocess_dir))

    def count_predictions(self, arm: str, model_version: str, endpoint: str, seconds: float, rows: int = 1) -> None:
        """Count served predictions and their latency; ``refresh`` carries them into the metrics.

        This runs on every request, on the event loop: it adds to plain numbers, and ``refresh`` (every second,
        and before each scrape) writes the sums into the metrics in one go. A prometheus_client update costs a
        lock, a ``getpid`` system call and a write to the shared file per value, three values a request.
        """
        key = (arm, model_version, endpoint)
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = [0.0] * (len(LATENCY_BUCKETS) + 3)
        pending[0] += rows
        pending[1] += seconds
        pending[2 + bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1

    def _carry_predictions(self) -> None:
        """Write the predictions counted since the last call into the counter and the histogram."""
        pending, self._pending = self._pending, {}
        for (arm, model_version, endpoint), sums in pending.items():
            self.predictions.labels(arm=arm, model_version=model_version).inc(sums[0])
            histogram = self.latency.labels(endpoint=endpoint, model_version=model_version)
            # prometheus_client has no public call for many observations at once: its sum and its
            # per-bucket counts (each bucket counts only its own observations; the exposition accumulates)
            histogram._sum.inc(sums[1])
            for bucket, count in enumerate(sums[2:]):
                if count:
                    histogram._buckets[bucket].inc(count)

    def count_validation_failure(self, field: str) -> None:
        """Count a rejected field under its feature name; any name the API does not know counts as one label."""
        name = field.rsplit(".", 1)[-1].split("[", 1)[0]
        self.validation_failures.labels(field=name if name in KNOWN_FIELDS else "unknown_field").inc()

    def bind(self, snapshot: Callable[[], dict[str, float]]) -> None:
        """Where ``refresh`` reads this worker's totals: written, quarantined, adopted, reloads, and the gauges."""
        self._snapshot = snapshot

    def refresh(self) -> None:
        """Carry this worker's totals into the metrics (counters by their increase since the last refresh)."""
        self._carry_predictions()
        values = self._snapshot()
        for name, counter in (
            ("written", self.log_written),
            ("quarantined", self.log_quarantined),
            ("adopted", self.log_adopted),
            ("reloads", self.model_reloads),
        ):
            increase = values.get(name, 0.0) - self._seen.get(name, 0.0)
            if increase > 0:
                counter.inc(increase)
                self._seen[name] = values[name]
        self.log_backlog.set(values.get("backlog", 0.0))
        self.registry_up.set(values.get("registry_up", 0.0))
        self.log_db_up.set(values.get("database_ok", 0.0))

    def counter_total(self, name: str) -> float:
        """A counter's value summed over every worker (this app's alone without a multiprocess folder)."""
        self.refresh()
        registry = self.registry
        if self.multiprocess_dir:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=self.multiprocess_dir)
        return registry.get_sample_value(f"{name}_total") or 0.0

    def exposition(self) -> bytes:
        """The Prometheus text of every worker (or of this app alone, without a multiprocess folder)."""
        self.refresh()
        if not self.multiprocess_dir:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self.multiprocess_dir)
        return generate_latest(registry)


def forget_dead_workers(folder: Path) -> None:
    """Drop the live gauges of workers that are gone (their counters stay: totals never go back)."""
    for path in folder.glob("gauge_live*.db"):
        match = _LIVE_FILE.match(path.name)
        if match and not alive(int(match.group(1))):
            # replacement workers start together: another one may have removed these files a moment ago
            with contextlib.suppress(FileNotFoundError):
                multiprocess.mark_process_dead(int(match.group(1)), str(folder))
