"""The demo's fast failure without network, and its run on the local files."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from taxi_assets_tests.support import PROJECT_ROOT
from taxi_tools.settings import instance_home

pytestmark = pytest.mark.slow  # runs the demo's command line


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_without_network_and_without_a_local_folder_the_demo_fails_fast_naming_taxi_trips_dir(
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "taxi_tools.cli", "demo", "--serve", "no"],
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


def make_variable(name: str, *assignments: str, env: dict[str, str] | None = None) -> str:
    """What the Makefile exports as ``name`` for the given command-line assignments."""
    completed = subprocess.run(
        ["make", "-s", f"--eval=show-variable: ; @echo $${name}", "show-variable", *assignments],
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return completed.stdout.strip()


def test_the_dagster_instance_lives_in_the_data_home_unless_dagster_home_is_set(tmp_path: Path) -> None:
    assert make_variable("DAGSTER_HOME", f"TAXI_HOME={tmp_path / 'a'}") == str(tmp_path / "a" / "dagster")
    assert make_variable("DAGSTER_HOME", f"TAXI_HOME={tmp_path / 'b'}") == str(tmp_path / "b" / "dagster")
    explicit = {"DAGSTER_HOME": str(tmp_path / "mine")}
    assert make_variable("DAGSTER_HOME", f"TAXI_HOME={tmp_path / 'a'}", env=explicit) == str(tmp_path / "mine")
    # make instance writes the template there, once: a configured instance is never overwritten
    # a clean environment: under `make test` the outer make has exported its own DAGSTER_HOME
    clean = {"PATH": "/usr/bin:/bin"}
    subprocess.run(["make", "-s", "instance", f"TAXI_HOME={tmp_path / 'a'}"], cwd=PROJECT_ROOT, env=clean, check=True)
    written = tmp_path / "a" / "dagster" / "dagster.yaml"
    assert written.read_text() == (PROJECT_ROOT / "dagster.yaml").read_text()
    written.write_text("telemetry:\n  enabled: false\n")
    subprocess.run(["make", "-s", "instance", f"TAXI_HOME={tmp_path / 'a'}"], cwd=PROJECT_ROOT, env=clean, check=True)
    assert written.read_text() == "telemetry:\n  enabled: false\n"


def test_two_data_homes_keep_two_instances(tmp_path: Path) -> None:
    homes = [instance_home({"TAXI_HOME": str(tmp_path / name)}) for name in ("a", "b")]
    assert homes == [tmp_path / "a" / "dagster", tmp_path / "b" / "dagster"]
    assert instance_home({"TAXI_HOME": str(tmp_path / "a"), "DAGSTER_HOME": str(tmp_path / "x")}) == tmp_path / "x"

    @dg.asset
    def probe() -> int:
        return 1

    with dg.DagsterInstance.from_config(str(homes[0])) as first:
        assert dg.materialize([probe], instance=first).success
        assert len(first.get_run_records()) == 1
    with dg.DagsterInstance.from_config(str(homes[1])) as second:
        assert second.get_run_records() == []


def test_seed_traffic_passes_the_seed_on() -> None:
    completed = subprocess.run(
        ["make", "-n", "seed-traffic", "SEED=7", "MONTH=2022-03"],
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert "--month 2022-03" in completed.stdout
    assert "--seed 7" in completed.stdout
