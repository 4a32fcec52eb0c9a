"""The demo's fast failure without network, and its run on the local files."""

import socket
import subprocess
import sys
import time
from pathlib import Path

from taxi_assets_tests.conftest import PROJECT_ROOT


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_without_network_and_without_a_local_folder_the_demo_fails_fast_naming_taxi_trips_dir(
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "taxi_assets.cli", "demo", "--serve", "no"],
        cwd=PROJECT_ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "TAXI_HOME": str(tmp_path),
            # an address where nothing listens stands in for a machine without network
            "TAXI_TLC_URL": f"http://127.0.0.1:{closed_port()}",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert completed.returncode == 2, completed.stderr
    assert "TAXI_TRIPS_DIR=../shared/data/tlc" in completed.stderr
    assert elapsed < 30
    assert not (tmp_path / "lake").exists()
