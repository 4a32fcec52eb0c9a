"""``scripts/bench_serve.py`` on tiny input, so it cannot rot: its exact check, and one-second wrk runs."""

import shutil
import sys
from pathlib import Path

import pytest

from taxi_assets_tests.champions import Trained, register
from taxi_assets_tests.serving.servers import registry_for
from taxi_assets_tests.support import PROJECT_ROOT, missing

sys.path.insert(0, str(PROJECT_ROOT / "scripts"))
import bench_serve


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


@pytest.mark.slow  # two seconds of load twice, under py-spy once
def test_bench_serve_measures_cpu_per_request_and_profiles_a_real_server(
    trained: Trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if shutil.which("wrk") is None:
        missing("wrk", "apt-get install -y wrk")
    register(registry_for(tmp_path), trained, "a")
    monkeypatch.setattr(bench_serve, "HOME", tmp_path)
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
