"""A real uvicorn server on 127.0.0.1: readiness, and a hot swap under a stream of requests."""

import threading
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from taxi_assets.lifecycle.prediction_log import PREDICTION_LOG
from taxi_assets_tests.serving.conftest import HEADERS, Trained, register, trip
from taxi_assets_tests.serving.servers import registry_for, server


def test_readiness_follows_the_champion(trained: Trained, tmp_path: Path) -> None:
    registry = registry_for(tmp_path)
    with server(tmp_path) as base:
        not_ready = httpx.get(f"{base}/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json()["champion_version"] is None
        version = register(registry, trained, "a")
        deadline = time.monotonic() + 30
        while httpx.get(f"{base}/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        ready = httpx.get(f"{base}/readyz").json()
        assert ready["champion_version"] == version
        assert ready["registry_reachable"] is True
        assert ready["source"] == f"models:/taxi-fare-green/{version}"


def test_a_hot_swap_under_load_fails_no_request_and_logs_every_one(trained: Trained, tmp_path: Path) -> None:
    registry = registry_for(tmp_path)
    first = register(registry, trained, "a")
    results: list[tuple[int, str]] = []
    stop = threading.Event()
    body = trip(trained.holdout)

    def stream(base: str) -> None:
        with httpx.Client(base_url=base, headers=HEADERS, timeout=10) as client:
            while not stop.is_set():
                response = client.post("/predict", json=body)
                results.append((response.status_code, response.json().get("model_version", "")))

    with server(tmp_path) as base:
        assert httpx.get(f"{base}/readyz").status_code == 200
        workers = [threading.Thread(target=stream, args=(base,)) for _ in range(4)]
        for worker in workers:
            worker.start()
        time.sleep(1.0)
        second = register(registry, trained, "b")
        deadline = time.monotonic() + 30
        while not any(version == second for _, version in results[-50:]) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        stop.set()
        for worker in workers:
            worker.join()
    statuses = {status for status, _ in results}
    assert statuses == {200}
    versions = [version for _, version in results]
    assert versions[0] == first
    assert versions[-1] == second
    assert len(results) > 100
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'platform.db'}")
    with engine.connect() as connection:
        logged = connection.execute(
            sa.select(sa.func.count()).select_from(PREDICTION_LOG).where(PREDICTION_LOG.c.status == "ok")
        ).scalar_one()
    engine.dispose()
    assert logged == len(results)
