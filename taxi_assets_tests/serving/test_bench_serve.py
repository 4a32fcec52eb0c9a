"""``scripts/bench_serve.py`` on tiny input (wrk is not needed for its exact check), so it cannot rot."""

import sys
from pathlib import Path

from taxi_assets_tests.champions import Trained, register
from taxi_assets_tests.serving.servers import registry_for
from taxi_assets_tests.support import PROJECT_ROOT

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
