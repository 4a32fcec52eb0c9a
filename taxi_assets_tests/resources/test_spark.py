"""Where Spark runs: local mode, a cluster master, or a Spark Connect server, chosen by configuration only.

The Connect test starts a real Spark Connect server (the one shipped with PySpark) on 127.0.0.1 and
materializes ``trip_features`` through it in a child process, with the lake given as a ``file://`` URL; the
feature table must be identical, row for row, to the one local mode writes.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pyspark
import pytest

from taxi_assets import constants
from taxi_assets.assets.features import trip_features
from taxi_assets.assets.ingestion import raw_trips, taxi_zones
from taxi_assets.definitions import build_resources, lake_from_env, mlflow_from_env, spark_from_env
from taxi_assets.lake_storage import lake_root
from taxi_assets.model.versions import CHAMPION, model_name
from taxi_assets.partitions import month_service_key
from taxi_assets.resources import parse_spark_conf, spark_config
from taxi_assets_tests.support import PROJECT_ROOT, TLC_DIR

pytestmark = pytest.mark.slow  # starts a Spark Connect server

JANUARY = str(month_service_key("2022-01", "green"))


def test_local_mode_is_the_default_and_binds_to_loopback() -> None:
    config = dict(spark_from_env({}).spark_config)
    java_options = config.pop("spark.driver.extraJavaOptions")
    assert config == constants.SPARK_CONFIG
    assert config["spark.master"] == "local[2]"
    # the driver's log4j configuration: the services' JSON lines unless the environment asks for text
    assert java_options.endswith("/log4j2-json.properties")
    assert java_options.startswith("-Xss16m ")  # the tasks' threads: room for a long GBT fit's lineage
    text = spark_from_env({"TAXI_LOG_FORMAT": "text"}).spark_config["spark.driver.extraJavaOptions"]
    assert text.endswith("/log4j2-text.properties")
    assert Path(text.split("=", 1)[1].removeprefix("file://")).is_file()


def test_a_cluster_master_replaces_local_mode_and_lets_executors_reach_the_driver() -> None:
    config = spark_config(master="spark://spark-master:7077", extra={"spark.executor.memory": "8g"})
    assert config["spark.master"] == "spark://spark-master:7077"
    assert "spark.driver.host" not in config
    assert "spark.driver.bindAddress" not in config
    assert config["spark.executor.memory"] == "8g"
    assert config["spark.sql.session.timeZone"] == "UTC"


def test_a_connect_url_names_only_the_server_and_session_settings() -> None:
    env = {"TAXI_SPARK_REMOTE": "sc://spark:15002", "TAXI_SPARK_MASTER": "yarn"}
    config = spark_from_env(env).spark_config
    assert config["spark.remote"] == "sc://spark:15002"
    assert not [key for key in config if key.startswith(("spark.master", "spark.driver.", "spark.ui."))]
    assert config["spark.sql.session.timeZone"] == "UTC"
    assert config["spark.sql.shuffle.partitions"] == constants.SPARK_CONFIG["spark.sql.shuffle.partitions"]


def test_extra_settings_are_semicolon_separated_pairs_and_bad_ones_are_named() -> None:
    text = "spark.executor.instances=4; spark.jars.packages=org.a:b:1,org.c:d:2"
    assert parse_spark_conf(text) == {"spark.executor.instances": "4", "spark.jars.packages": "org.a:b:1,org.c:d:2"}
    with pytest.raises(ValueError, match=re.escape("'executor.memory' is not a spark.<key>=<value> pair")):
        parse_spark_conf("executor.memory")


def test_a_lake_root_is_a_folder_a_file_url_or_an_object_store(tmp_path: Path) -> None:
    assert lake_root(f"file://{tmp_path}/lake%20a").local_path == tmp_path / "lake a"
    assert lake_from_env({"TAXI_LAKE_ROOT": tmp_path.as_uri()}).location.local_path == tmp_path
    assert lake_from_env({"TAXI_HOME": str(tmp_path)}).location.local_path == tmp_path / "lake"
    with pytest.raises(ValueError, match=re.escape("http:// is not a supported lake store")):
        lake_root("http://host/lake")
    with pytest.raises(ValueError, match="names a local path"):
        lake_root("file://otherhost/lake")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class ConnectServer:
    url: str
    log: Path


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConnectServer]:
    """A Spark Connect server (local[1]) on 127.0.0.1, as ``start-connect-server.sh`` would run it."""
    port = free_port()
    spark_home = Path(pyspark.__file__).parent
    log = tmp_path_factory.mktemp("connect") / "server.log"
    command = [str(spark_home / "bin" / "spark-submit"), "--class"]
    command += ["org.apache.spark.sql.connect.service.SparkConnectServer", "--master", "local[1]"]
    for key, value in {
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.memory": "1g",
        "spark.ui.enabled": "false",
    }.items():
        command += ["--conf", f"{key}={value}"]
    with log.open("wb") as out:
        server = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "SPARK_HOME": str(spark_home)}
        )
    try:
        deadline = time.monotonic() + 90
        while "Spark Connect server started" not in log.read_text(errors="replace"):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Spark Connect server did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.5)
        yield ConnectServer(url=f"sc://127.0.0.1:{port}", log=log)
    finally:
        server.terminate()
        server.wait(timeout=30)


CHILD = """
import json, sys
import dagster as dg
from taxi_assets.assets.features import trip_features
from taxi_assets.assets.ingestion import raw_trips, taxi_zones
from taxi_assets.definitions import build_resources

env, partition = json.loads(sys.argv[1]), sys.argv[2]
resources = build_resources(env)
session = resources["pyspark"].spark_session
dg.materialize([taxi_zones], resources=resources)
result = dg.materialize([raw_trips, trip_features], resources=resources, partition_key=partition)
meta = {k: v.value for k, v in result.asset_materializations_for_node("trip_features")[0].metadata.items()}
print(json.dumps({"session": type(session).__module__, "content_hash": meta["content_hash"], "rows": meta["rows_out"]}))
"""


def test_trip_features_through_spark_connect_with_a_file_url_lake_match_local_mode(
    connect_server: ConnectServer, tmp_path: Path
) -> None:
    env = {"TAXI_HOME": str(tmp_path / "connect"), "TAXI_TRIPS_DIR": str(TLC_DIR)}
    env |= {"TAXI_SPARK_REMOTE": connect_server.url, "TAXI_LAKE_ROOT": (tmp_path / "connect-lake").as_uri()}
    child = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(env), JANUARY],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    assert child.returncode == 0, child.stderr[-4000:]
    remote = json.loads(child.stdout.strip().splitlines()[-1])
    assert remote["session"] == "pyspark.sql.connect.session"
    assert (tmp_path / "connect-lake" / "features" / "green" / "2022-01.parquet" / "_manifest.json").is_file()

    local_env = {"TAXI_HOME": str(tmp_path / "local"), "TAXI_TRIPS_DIR": str(TLC_DIR)}
    resources = build_resources(local_env)
    dg.materialize([taxi_zones], resources=resources)
    result = dg.materialize([raw_trips, trip_features], resources=resources, partition_key=JANUARY)
    local = result.asset_materializations_for_node("trip_features")[0].metadata
    assert remote["rows"] == local["rows_out"].value > 50_000
    assert remote["content_hash"] == local["content_hash"].value


def test_the_first_champion_is_trained_on_the_connect_server(connect_server: ConnectServer, tmp_path: Path) -> None:
    lake = tmp_path / "shared-volume" / "lake"
    # nothing of this process's stores: other tests point MLFLOW_TRACKING_URI and friends at their own homes
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TAXI_", "MLFLOW_", "DAGSTER_"))}
    env |= {"TAXI_HOME": str(tmp_path / "home"), "TAXI_TRIPS_DIR": str(TLC_DIR), "PYTHONHASHSEED": "0"}
    env |= {"TAXI_SPARK_REMOTE": connect_server.url, "TAXI_LAKE_ROOT": lake.as_uri()}
    demo = subprocess.run(
        [sys.executable, "-m", "taxi_tools.cli", "demo", "--serve", "no"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert demo.returncode == 0, demo.stderr[-4000:]
    assert "green: champion is version 1" in demo.stdout, demo.stdout[-3000:]
    # the GBT was fitted by the server's JVM, and the saved pipeline landed on the shared lake
    assert "Stage class: GBTRegressor" in connect_server.log.read_text(errors="replace")
    assert list((lake / "models" / "green").glob("*/spark_model/stages/*GBTRegressor*"))
    registry = mlflow_from_env({"TAXI_HOME": str(tmp_path / "home")}).registry()
    version = registry.client.get_model_version_by_alias(model_name("green"), CHAMPION)
    assert version.tags["check.serving_artifact_parity"] == "passed"
