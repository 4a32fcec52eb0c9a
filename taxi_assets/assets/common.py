"""What every asset module shares: data errors, and a lake Spark cannot reach, as clean failures."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from taxi_assets.errors import TaxiDataError

# Hadoop's messages when a URL scheme has no filesystem installed: a scheme it knows (s3a:// maps to a class in
# the hadoop-aws connector, which PySpark does not ship) or one it does not
_NO_FILESYSTEM = re.compile(r"Class (org\.apache\.hadoop\.fs\.[\w.]+FileSystem) not found|No FileSystem for scheme \S+")
# the connector matching the Hadoop client that PySpark ships (pyspark/jars/hadoop-client-api-3.5.0.jar)
HADOOP_AWS = "org.apache.hadoop:hadoop-aws:3.5.0"


@contextmanager
def failing_clearly() -> Iterator[None]:
    """Turn a data error into a Dagster Failure whose description is the error's message (no traceback).

    Spark failing to open the lake because its Hadoop has no filesystem for the lake's scheme is turned into
    a Failure that says what to install.
    """
    try:
        yield
    except TaxiDataError as exc:
        raise dg.Failure(description=str(exc), metadata={"error": type(exc).__name__}) from exc
    except Exception as exc:
        missing = _NO_FILESYSTEM.search(str(exc))
        if missing is None:
            raise
        raise dg.Failure(
            description=(
                f"Spark cannot open the lake: its Hadoop has no filesystem for it ({missing.group(0)}). For s3a://, "
                f"add Hadoop's connector, e.g. TAXI_SPARK_CONF='spark.jars.packages={HADOOP_AWS}' (on Spark "
                "Connect, to the server's configuration), or put the lake on a volume every step mounts (file://)."
            ),
            metadata={"error": "SparkFilesystemMissing", "hadoop": missing.group(0)},
        ) from exc


def run_step_seconds(context: dg.AssetExecutionContext) -> list[tuple[str, float]]:
    """Each step of this run that has finished so far and its seconds, in the order they ran (Dagster's step stats).

    A retraining records them with its decision, so where the run's time went is part of what it decided.
    """
    times = [
        (stats.start_time, stats.end_time, stats.step_key)
        for stats in context.instance.get_run_step_stats(context.run.run_id)
        if stats.start_time is not None and stats.end_time is not None
    ]
    return [(step, round(end - start, 1)) for start, end, step in sorted(times)]
