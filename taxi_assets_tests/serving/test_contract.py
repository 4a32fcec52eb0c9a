"""The contract is the server: schemathesis with every check against a real server, the docs offline, the edges."""

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from taxi_assets_tests.champions import Trained, register
from taxi_assets_tests.serving.servers import Server, registry_for, running_server, wait_ready
from taxi_assets_tests.serving.support import HEADERS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def api(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("contract")
    register(registry_for(home), trained, "a")
    with running_server(home, poll_seconds=30, workers=2) as server:
        wait_ready(server.base)
        yield server


def test_schemathesis_with_every_check_and_its_stateful_phase_finds_no_failure(api: Server, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "schemathesis.cli", "run", f"{api.base}/schema/openapi.json"]
    command += ["--checks", "all", "--header", f"X-API-Key: {HEADERS['X-API-Key']}", "--seed", "7"]
    command += ["--max-examples", "150", "--workers", "2", "--no-color"]
    # run in a scratch folder: schemathesis keeps a cache of what it found in its working directory
    # the speed rule JSON Schema cannot state: a hook keeps generated valid trips inside it
    env = os.environ | {"SCHEMATHESIS_HOOKS": "taxi_assets_tests.serving.schemathesis_hooks", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    # the stateful phase ran and followed the document's link: a prediction, then feedback for its request id
    assert re.search(r"API Links:\s+1 covered / 1 selected / 1 total", result.stdout), result.stdout[-4000:]


def test_the_documented_examples_are_accepted(api: Server) -> None:
    document = httpx.get(f"{api.base}/schema/openapi.json").json()
    for path in ("/predict", "/predict/batch"):
        example = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["example"]
        assert httpx.post(f"{api.base}{path}", json=example, headers=HEADERS).status_code == 200
    assert document["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
    }
    assert {"ApiKey": []} in document["paths"]["/predict"]["post"]["security"]


def test_the_documented_bounds_are_the_champions(api: Server, trained: Trained) -> None:
    document = httpx.get(f"{api.base}/schema/openapi.json").json()
    schema = document["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    distance = schema["properties"]["trip_distance"]
    # the outlier bounds the champion's training rows were kept by, recorded in its reference profile
    bounds = json.loads(trained.profile_path.read_text())["bounds"]
    assert (distance["minimum"], distance["maximum"]) == (bounds["min_distance_miles"], bounds["max_distance_miles"])
    assert f"[{bounds['min_speed_mph']:g}, {bounds['max_speed_mph']:g}] mph" in schema["description"]
    body = {**document["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["example"]}
    # each distance with a duration that keeps its average speed inside the speed rule
    for value, minutes, status in (
        (distance["minimum"], 1.0, 200),
        (distance["maximum"], 120.0, 200),
        (distance["maximum"] * 1.01, 120.0, 422),
    ):
        trip = body | {"trip_distance": value, "trip_duration_minutes": minutes}
        assert httpx.post(f"{api.base}/predict", json=trip, headers=HEADERS).status_code == status
    feedback = document["paths"]["/feedback"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    fare = feedback["properties"]["actual_fare"]
    assert (fare["minimum"], fare["maximum"]) == (bounds["min_fare_usd"], bounds["max_fare_usd"])
    batch = document["paths"]["/predict/batch"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert batch["properties"]["trips"]["minItems"] == 1
    assert httpx.post(f"{api.base}/predict/batch", json={"trips": []}, headers=HEADERS).status_code == 422


def test_the_docs_page_works_offline(api: Server) -> None:
    page = httpx.get(f"{api.base}/schema")
    assert page.status_code == 200
    assert "cdn" not in page.text
    assert "https://" not in page.text
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js"):
        assert f"/schema/assets/{asset}" in page.text
        response = httpx.get(f"{api.base}/schema/assets/{asset}")
        assert response.status_code == 200
        assert len(response.content) > 100_000


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [("GET", "/predict", "POST"), ("DELETE", "/predict/batch", "POST"), ("PUT", "/feedback", "POST")],
)
def test_405_says_which_methods_are_allowed(api: Server, method: str, path: str, allow: str) -> None:
    response = httpx.request(method, f"{api.base}{path}", headers=HEADERS)
    assert response.status_code == 405
    assert allow in response.headers["allow"]
    assert response.json()["error"] == "method_not_allowed"


@pytest.mark.parametrize("path", ["/nope", "/schema/nope", "/predict/nope", "/schema/assets/../../etc/passwd"])
def test_unknown_paths_are_json_404s(api: Server, path: str) -> None:
    response = httpx.get(f"{api.base}{path}")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["status"] == 404


def test_security_headers_and_no_server_banner(api: Server) -> None:
    document = httpx.get(f"{api.base}/schema/openapi.json").json()
    example = document["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["example"]
    for path, body in (("/predict", example), ("/predict/batch", {"trips": [example]}), ("/predict", {})):
        response = httpx.post(f"{api.base}{path}", json=body, headers=HEADERS)
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "server" not in response.headers
    assert httpx.get(f"{api.base}/healthz").headers["x-content-type-options"] == "nosniff"
    assert json.loads(httpx.get(f"{api.base}/healthz").text) == {"status": "ok"}
