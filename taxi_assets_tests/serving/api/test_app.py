"""The app as a whole: a row the log refuses is quarantined, the API ready; a log refusing the API: not ready."""

import contextlib
import os
from pathlib import Path

from litestar.testing import TestClient

from taxi_assets_tests.champions import Trained
from taxi_assets_tests.postgres import api_role_database, as_owner
from taxi_assets_tests.serving.api.support import log_rows
from taxi_assets_tests.serving.support import HEADERS, Served, make_settings, trip
from taxi_serving.app import create_app


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


def test_a_log_database_refusing_the_apis_rows_makes_it_not_ready_until_fixed(
    served: Served, trained: Trained, tmp_path: Path
) -> None:
    """The API's role loses INSERT on the log: answers still journaled, /readyz 503 with the reason, then ready."""
    with api_role_database("ready") as database:
        as_owner(database.owner_url, f"REVOKE INSERT ON prediction_log FROM {database.role}")
        settings = make_settings(served.home, database_url=database.url, journal_dir=tmp_path / "journal")
        with TestClient(create_app(settings)) as client:
            for _ in range(10):
                assert client.post("/predict", json=trip(trained.holdout), headers=HEADERS).status_code == 200
            sink = client.app.state.serving.sink
            assert not sink.flush(timeout=5)
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["ready"] is False
            assert "refuses this API's rows (InsufficientPrivilege" in ready.json()["detail"]
            assert ready.json()["log_backlog"] == 10
            as_owner(database.owner_url, f"GRANT INSERT ON prediction_log TO {database.role}")
            assert sink.flush(timeout=15)
            ready = client.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["detail"] == "ready"
            assert ready.json()["log_quarantined"] == 0


def test_a_full_disk_answers_503_is_not_ready_and_recovers_by_itself(
    served: Served, trained: Trained, small_disk: Path
) -> None:
    """Never a 200 without a durable record; /readyz not ready while full; ready and answering once space returns."""
    settings = make_settings(served.home, journal_dir=small_disk / "journal")
    with TestClient(create_app(settings)) as client:
        body = trip(trained.holdout)
        answered = [client.post("/predict", json=body, headers=HEADERS) for _ in range(5)]
        filler = os.open(small_disk / "filler", os.O_CREAT | os.O_WRONLY)
        with contextlib.suppress(OSError):
            while True:
                os.write(filler, b"f" * 4096)
        os.close(filler)
        refused = [client.post("/predict", json=body, headers=HEADERS) for _ in range(40)]
        assert {response.status_code for response in refused} >= {503}
        assert all(response.status_code in (200, 503) for response in refused)
        assert refused[-1].json()["error"] == "journal_unavailable"
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "the journal cannot be written (ENOSPC" in ready.json()["detail"]
        (small_disk / "filler").unlink()
        assert client.get("/readyz").status_code == 200  # room again: no operator needed
        answered += [client.post("/predict", json=body, headers=HEADERS) for _ in range(5)]
        answered += [response for response in refused if response.status_code == 200]
        assert all(response.status_code == 200 for response in answered[:5] + answered[5:10])
        assert client.app.state.serving.sink.flush(timeout=10)
    logged = {row["request_id"] for row in log_rows(served) if row["status"] == "ok"}
    assert {response.json()["request_id"] for response in answered} <= logged
