"""The API benchmarks on tiny input, so they cannot rot: the exact check, the wait for every worker, wrk runs.

``scripts/bench_serve.py`` and ``scripts/bench_serve_pair.py``, on one-second loads of real servers.
"""

import http.server
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from taxi_assets_tests.champions import Trained, register
from taxi_assets_tests.serving.servers import registry_for
from taxi_assets_tests.support import PROJECT_ROOT, missing

sys.path.insert(0, str(PROJECT_ROOT / "scripts"))
import bench_serve
import bench_serve_pair


def test_bench_serve_exact_check_counts_every_answer_in_the_log(trained: Trained, tmp_path: Path) -> None:
    register(registry_for(tmp_path), trained, "a")
    previous = bench_serve.HOME
    bench_serve.HOME = tmp_path
    try:
        ok, logged = bench_serve.exact_check(f"sqlite:///{tmp_path / 'log.db'}", tmp_path, per_thread=25, workers=1)
    finally:
        bench_serve.HOME = previous
    assert ok == 100
    assert logged == 100


def test_bench_serve_reads_wrk_results_and_rows() -> None:
    result = bench_serve.WrkResult(
        requests=20_000, seconds=2.0, non_2xx=3, socket_errors=1, p50_ms=1, p95_ms=2, p99_ms=3
    )
    assert result.rate == 10_000
    line = bench_serve.row("label", result, "5 / 5")
    assert "10,000" in line
    assert line.rstrip().endswith("5 / 5")


@pytest.fixture
def bench_home(trained: Trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data home with a champion registered, where the bench's servers run under wrk for a second."""
    if shutil.which("wrk") is None:
        missing("wrk", "apt-get install -y wrk")
    register(registry_for(tmp_path), trained, "a")
    monkeypatch.setattr(bench_serve, "HOME", tmp_path)
    monkeypatch.setattr(bench_serve, "SECONDS", 1)
    return tmp_path


@pytest.mark.slow  # two seconds of load twice, under py-spy once
def test_bench_serve_measures_cpu_per_request_and_profiles_a_real_server(
    bench_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bench_serve, "SECONDS", 2)
    url = f"sqlite:///{tmp_path / 'log.db'}"
    with bench_serve.api_server(url, tmp_path, workers=1) as running:
        result, cpu_us = bench_serve.measured(running, "/predict", "POST", bench_serve.TRIP, tmp_path)
        profiled, profile = bench_serve.profiled(running, tmp_path)
    assert result.requests > 100
    assert result.non_2xx == 0
    # a request costs the server some CPU, and less than the whole machine's time per request
    assert 0 < cpu_us < 2 * 1e6 * 2 / result.rate
    assert profiled.requests > 100
    assert isinstance(profile, bench_serve.Profile), profile
    assert profile.samples > 100
    assert 0 < profile.shipping_share < 1
    bench_serve.print_profile(profile)
    printed = capsys.readouterr().out
    assert "own time of the top functions" in printed
    assert "shipping thread" in printed


def test_bench_serve_tells_workers_apart_by_what_they_answer() -> None:
    assert bench_serve.worker_of(httpx.Response(200, json={"ready": True, "loaded_at": "t1"})) == "t1"
    assert bench_serve.worker_of(httpx.Response(200, json={"status": "ok", "pid": "123"})) == "123"
    assert bench_serve.worker_of(httpx.Response(200, content=b"\n")) == ""
    assert bench_serve.worker_of(httpx.Response(200, json=[1, 2])) == ""


class Workers:
    """A stand-in server on a real socket: the first ``alone`` answers come from worker a, then a and b alternate."""

    def __init__(self, alone: int, names: tuple[str, ...] = ("a", "b")) -> None:
        self.answers = 0
        served = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                served.answers += 1
                name = names[0] if served.answers <= alone else names[served.answers % len(names)]
                body = json.dumps({"pid": name}).encode()
                self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ping"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def alive_process() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait()


def test_bench_load_starts_only_once_every_worker_has_answered(alive_process: subprocess.Popen[bytes]) -> None:
    workers = Workers(alone=5)
    try:
        bench_serve.wait_ready(workers.url, alive_process, workers=2, seconds=30)
    finally:
        workers.server.shutdown()
    assert workers.answers > 5  # the first worker alone did not count as ready


def test_bench_load_never_starts_while_a_worker_stays_silent(alive_process: subprocess.Popen[bytes]) -> None:
    workers = Workers(alone=10**9)
    try:
        with pytest.raises(RuntimeError, match="1 of 2 workers answered"):
            bench_serve.wait_ready(workers.url, alive_process, workers=2, seconds=1)
    finally:
        workers.server.shutdown()


def test_bench_serve_pair_refuses_a_folder_that_is_not_a_checkout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        bench_serve_pair.main([str(tmp_path)])
    assert "is not a checkout of this project" in capsys.readouterr().err


@pytest.mark.slow  # two one-second loads on real servers
def test_bench_serve_pair_measures_two_checkouts_in_alternating_rounds(
    bench_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bench_serve, "WORKERS", 1)
    # this checkout against itself: the same code twice, so both sides serve
    found = bench_serve_pair.rounds(PROJECT_ROOT, 1, tmp_path)
    assert [(pair[0].code, pair[1].code) for pair in found] == [("other", "this")]
    assert all(side.rate > 100 and side.cpu_us > 0 for side in found[0])
    rate_ratio, cpu_ratio = bench_serve_pair.summary(found)
    assert rate_ratio == pytest.approx(found[0][1].rate / found[0][0].rate)
    assert cpu_ratio > 0
    assert "this checkout against the other" in capsys.readouterr().out
