"""The Prometheus metrics stay bounded whatever clients send."""

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from taxi_assets_tests.champions import Trained
from taxi_assets_tests.serving.support import HEADERS, Served, trip
from taxi_serving.metrics import LATENCY_BUCKETS, ApiMetrics


def test_unknown_field_names_do_not_grow_the_metrics(served: Served, trained: Trained) -> None:
    body = trip(trained.holdout)
    for index in range(20):
        served.client.post("/predict", json=body | {f"{index}{'x' * 500_000}": 1}, headers=HEADERS)
    metrics = served.client.get("/metrics").text
    assert len(metrics) < 50_000
    assert 'taxi_api_validation_failures_total{field="unknown_field"} 20.0' in metrics


def test_predictions_counted_in_bulk_read_as_if_each_were_observed() -> None:
    """The per-request counts are carried into the metrics later, with the same counts, sums and buckets."""
    metrics = ApiMetrics()
    reference = CollectorRegistry()
    latency = Histogram(
        "taxi_api_request_seconds",
        "Request latency.",
        ["endpoint", "model_version"],
        buckets=LATENCY_BUCKETS,
        registry=reference,
    )
    predictions = Counter("taxi_api_predictions", "Predictions served.", ["arm", "model_version"], registry=reference)
    seconds = [0.0001, 0.0005, 0.0007, 0.001, 0.003, 0.02, 0.3, 4.0, 0.0005]
    for index, value in enumerate(seconds):
        version = str(1 + index % 2)
        rows = 1 + index % 3
        metrics.count_predictions("champion", version, "/predict", value, rows)
        latency.labels(endpoint="/predict", model_version=version).observe(value)
        predictions.labels(arm="champion", model_version=version).inc(rows)
    assert (
        metrics.registry.get_sample_value("taxi_api_predictions_total", {"arm": "champion", "model_version": "1"})
        is None
    )
    exposition = metrics.exposition().decode()
    expected = generate_latest(reference).decode()
    wanted = [
        line
        for line in expected.splitlines()
        if line.startswith(("taxi_api_request_seconds_", "taxi_api_predictions_total")) and "_created" not in line
    ]
    assert len(wanted) == 2 * (len(LATENCY_BUCKETS) + 3) + 2
    for line in wanted:
        assert line in exposition
    # counted once: a second scrape adds nothing
    again = metrics.exposition().decode()
    assert all(line in again for line in wanted)


COUNTING_WORKER = """
import sys
from taxi_serving.metrics import ApiMetrics

metrics = ApiMetrics()
metrics.bind(lambda: {"quarantined": float(sys.argv[1])})
print(metrics.counter_total("taxi_api_log_rows_quarantined"))
"""


def test_a_counter_total_is_summed_over_the_workers_as_metrics_sums_it(tmp_path: Path) -> None:
    """What /readyz says of the quarantine is every worker's count, not the one that answered."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    totals = []
    for quarantined in ("3", "1"):
        done = subprocess.run(
            [sys.executable, "-c", COUNTING_WORKER, quarantined], env=env, capture_output=True, text=True, check=True
        )
        totals.append(float(done.stdout.strip()))
    assert totals == [3.0, 4.0]  # the second worker's total includes the first's (its files stay)
