"""A real uvicorn server on 127.0.0.1: readiness, and a hot swap under a stream of requests."""

import json
import threading
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

from taxi_assets.platform_db.prediction_log import PREDICTION_LOG
from taxi_assets_tests.champions import Trained, register
from taxi_assets_tests.serving.servers import registry_for, running_server, server, wait_ready
from taxi_assets_tests.serving.support import HEADERS, trip


def test_readiness_follows_the_champion_and_the_server_logs_json_lines(trained: Trained, tmp_path: Path) -> None:
    registry = registry_for(tmp_path)
    with running_server(tmp_path) as api:
        base = api.base
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
    # one format for uvicorn's lines and the API's own (running_server checks every line is JSON)
    entries = [json.loads(line) for line in api.output.splitlines() if line.strip()]
    assert {"uvicorn.error", "taxi_serving.model_store"} <= {entry["logger"] for entry in entries}
    assert all(set(entry) >= {"event", "logger", "level", "timestamp"} for entry in entries)


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


def counter_total(text: str, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def test_metrics_with_two_workers_add_up_and_never_go_back(trained: Trained, tmp_path: Path) -> None:
    register(registry_for(tmp_path), trained, "a")
    body = trip(trained.holdout)
    with running_server(tmp_path, workers=2, poll_seconds=30) as api:
        wait_ready(api.base)
        assert len(api.workers()) == 2
        sent, totals, seen_workers = 0, [], set()
        for _ in range(20):
            for _ in range(15):
                # a new connection each time: the kernel spreads them over both workers
                with httpx.Client(base_url=api.base, headers=HEADERS) as client:
                    assert client.post("/predict", json=body).status_code == 200
                sent += 1
            scrape = httpx.get(f"{api.base}/metrics")
            assert "server" not in scrape.headers
            totals.append(counter_total(scrape.text, "taxi_api_predictions_total"))
        # each worker carries its counts into the shared files every second (and the scraped one at the scrape)
        time.sleep(1.5)
        final = counter_total(httpx.get(f"{api.base}/metrics").text, "taxi_api_predictions_total")
        rejected = {
            401: httpx.post(f"{api.base}/predict", json=body),
            413: httpx.post(f"{api.base}/predict", content=b"x" * 2_000_000, headers=HEADERS),
            422: httpx.post(f"{api.base}/predict", json=body | {"pickup_hour": 99}, headers=HEADERS),
            400: httpx.post(f"{api.base}/predict", content=b"{", headers=HEADERS),
        }
        scrape = httpx.get(f"{api.base}/metrics").text
        for pid_file in (tmp_path / "serving" / "metrics").glob("*/counter_*.db"):
            seen_workers.add(pid_file.stem.rsplit("_", 1)[-1])
    assert final == sent == 300
    # never more than was answered, never going back
    assert all(total <= 15.0 * (index + 1) for index, total in enumerate(totals))
    assert totals == sorted(totals)
    assert totals[-1] > 0
    assert len(seen_workers) == 2  # both workers counted some
    for status, response in rejected.items():
        assert response.status_code == status
        assert counter_total(scrape, "taxi_api_errors_total", status=str(status)) == 1.0
    assert counter_total(scrape, "taxi_api_validation_failures_total", field="pickup_hour") == 1.0
