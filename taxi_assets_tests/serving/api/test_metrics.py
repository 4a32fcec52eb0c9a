"""The Prometheus metrics stay bounded whatever clients send."""

from taxi_assets_tests.champions import Trained
from taxi_assets_tests.serving.support import HEADERS, Served, trip


def test_unknown_field_names_do_not_grow_the_metrics(served: Served, trained: Trained) -> None:
    body = trip(trained.holdout)
    for index in range(20):
        served.client.post("/predict", json=body | {f"{index}{'x' * 500_000}": 1}, headers=HEADERS)
    metrics = served.client.get("/metrics").text
    assert len(metrics) < 50_000
    assert 'taxi_api_validation_failures_total{field="unknown_field"} 20.0' in metrics
