"""The Spark session of a step: local mode, a cluster master or a Spark Connect server."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_pyspark import LazyPySparkResource

from taxi_assets import constants
from taxi_assets.logs import JSON

# what only a driver inside this process can take: a Spark Connect client names its server and nothing more
_DRIVER_ONLY = (
    "spark.master",
    "spark.driver.memory",
    "spark.driver.bindAddress",
    "spark.driver.host",
    "spark.driver.extraJavaOptions",
    "spark.ui.",
)
TASK_STACK = "-Xss16m"
# binding the driver to 127.0.0.1 suits local[N]; a cluster's executors must reach the driver from outside
_LOCAL_ONLY = ("spark.driver.bindAddress", "spark.driver.host")


def spark_config(
    master: str | None = None,
    remote: str | None = None,
    extra: Mapping[str, str] | None = None,
    log_format: str = JSON,
) -> dict[str, str]:
    """The SparkSession configuration for local mode, a cluster master, or a Spark Connect server.

    Args:
        master: ``local[2]`` (default), ``spark://host:7077``, ``yarn``, ``k8s://https://host:443``.
        remote: a Spark Connect URL (``sc://host:15002``); the server then owns master, memory and UI, and
            ``master`` is ignored.
        extra: further settings (executor memory and count, object-store credentials), applied last.
        log_format: the driver JVM's log, ``json`` (JSON lines, warnings and errors) or ``text`` (errors only,
            readable); either way without Spark's start-up banner.
    """
    config = dict(constants.SPARK_CONFIG)
    # -Xss: in local mode the tasks run on the driver's threads, and a task of a long GBT fit (300 trees) carries a
    # lineage deep enough to overflow the default 1 MB stack when it is deserialized (StackOverflowError, now and then)
    config["spark.driver.extraJavaOptions"] = (
        f"{TASK_STACK} -Dlog4j2.configurationFile={log4j_config(log_format).as_uri()}"
    )
    if remote:
        config = {key: value for key, value in config.items() if not key.startswith(_DRIVER_ONLY)}
        config["spark.remote"] = remote
    elif master:
        config["spark.master"] = master
        if not master.startswith("local"):
            config = {key: value for key, value in config.items() if key not in _LOCAL_ONLY}
    config.update(extra or {})
    return config


def log4j_config(log_format: str) -> Path:
    """The log4j2 configuration of the driver JVM for ``json`` or ``text`` (shipped with the package)."""
    return Path(__file__).with_name(f"log4j2-{log_format}.properties")


class SparkResource(LazyPySparkResource):
    """The SparkSession of a step, created on first use: local mode, a cluster master or a Spark Connect client.

    On Spark Connect the session is released at the end of the step, and with it every fitted model the server
    caches for it. PySpark's own finalizers would release each model with an RPC of its own, which can start
    inside another RPC on the same thread and deadlock the channel (a rare hang seen here at the end of a
    training step; SPARK-57655, SPARK-59292), so on Connect that per-model release is left to the session's end.
    """

    @property
    def spark_session(self) -> Any:
        """The session (created on first access)."""
        if self.is_connect:
            _release_models_with_the_session()
        return super().spark_session

    @property
    def is_connect(self) -> bool:
        """True when the session is a Spark Connect client."""
        return "spark.remote" in self.spark_config

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """Release a Spark Connect session (and the server's state for it); a local session stays for reuse."""
        if self.is_connect and self._spark_session is not None:
            self._spark_session.stop()


def _release_models_with_the_session() -> None:
    # imported here: only a step that opens a Spark Connect session needs it (the API image has no pyspark)
    import pyspark.ml.util

    pyspark.ml.util.del_remote_cache = _keep_until_session_end


def _keep_until_session_end(ref_id: str) -> None:
    """Stands in for PySpark's per-model release on Spark Connect: the session's end releases the model."""


def parse_spark_conf(text: str) -> dict[str, str]:
    """``key=value`` pairs separated by ``;`` (values may hold commas, as ``spark.jars.packages`` does)."""
    pairs: dict[str, str] = {}
    for item in text.split(";"):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip().startswith("spark."):
            raise ValueError(f"TAXI_SPARK_CONF: {item.strip()!r} is not a spark.<key>=<value> pair")
        pairs[key.strip()] = value.strip()
    return pairs
