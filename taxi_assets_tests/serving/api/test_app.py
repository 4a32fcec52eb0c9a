"""The app as a whole: a row the log refuses is quarantined, and the API stays ready."""

from taxi_assets_tests.champions import Trained
from taxi_assets_tests.serving.api.support import log_rows
from taxi_assets_tests.serving.support import HEADERS, Served, trip


def test_a_refused_row_is_quarantined_and_readiness_stays_true(served: Served, trained: Trained) -> None:
    from taxi_serving.service import log_row

    sink = served.app.state.serving.sink
    poison = list(log_row(request_id="poison", endpoint="/predict", status="ok", status_code=200))
    poison[11] = {"not": "a number"}
    sink.submit(tuple(poison))
    for _ in range(20):
        assert served.client.post("/predict", json=trip(trained.holdout), headers=HEADERS).status_code == 200
    assert sink.flush()
    ready = served.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["log_store_reachable"] is True
    assert ready.json()["log_quarantined"] == 1
    assert ready.json()["log_backlog"] == 0
    assert sum(row["status"] == "ok" for row in log_rows(served)) == 20
    assert "taxi_api_log_rows_quarantined_total 1.0" in served.client.get("/metrics").text
