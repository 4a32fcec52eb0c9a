"""One logging setup: JSON lines for the services and the runs, readable lines for the CLI."""

import json
import logging
import os
import subprocess
import sys

import pytest

from taxi_assets import logs
from taxi_assets.alerting import Alert, Alerter, Kind, Severity


def record(message: str = "window %s judged", *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("taxi.alerts", logging.WARNING, __file__, 1, message, args or ("w1",), None)
    made.__dict__.update(extra)
    return made


def test_a_json_line_holds_the_message_the_fields_and_the_dagster_run() -> None:
    meta = {"run_id": "abc123", "job_name": "monitor_job", "step_key": "drift_report", "orig_message": "judged"}
    line = logs.JsonLines().format(record(fields={"service": "green", "rows": 3}, dagster_meta=meta))
    entry = json.loads(line)
    assert "\n" not in line
    assert entry["level"] == "warning"
    assert entry["logger"] == "taxi.alerts"
    assert entry["event"] == "judged"  # the user's message, not Dagster's prefixed copy
    assert (entry["service"], entry["rows"]) == ("green", 3)
    assert (entry["run_id"], entry["job_name"], entry["step_key"]) == ("abc123", "monitor_job", "drift_report")
    assert entry["timestamp"].endswith("Z")


def test_a_json_line_carries_the_traceback_and_never_lets_a_field_replace_the_message() -> None:
    try:
        raise ValueError("bad month")
    except ValueError:
        failed = record(fields={"event": "overwritten?"})
        failed.exc_info = sys.exc_info()
    entry = json.loads(logs.JsonLines().format(failed))
    assert entry["event"] == "window w1 judged"
    assert "ValueError: bad month" in entry["error"]


def test_a_readable_line_is_one_short_line_with_its_fields() -> None:
    line = logs.Readable().format(record(fields={"service": "green", "details": {"x": "y" * 500}}))
    assert "WARNING taxi.alerts: window w1 judged  service=green details=" in line
    assert "\n" not in line
    assert len(line) < 200  # a long value is cut


def test_the_format_and_level_come_from_the_environment_and_bad_values_are_named() -> None:
    assert logs.log_format({}, logs.JSON) == "json"
    assert logs.log_format({"TAXI_LOG_FORMAT": "TEXT"}, logs.JSON) == "text"
    with pytest.raises(ValueError, match="TAXI_LOG_FORMAT='xml': one of json, text"):
        logs.log_format({"TAXI_LOG_FORMAT": "xml"}, logs.JSON)
    assert logs.log_level({"TAXI_LOG_LEVEL": "debug"}) == "DEBUG"
    with pytest.raises(ValueError, match="TAXI_LOG_LEVEL='loud': one of DEBUG, INFO"):
        logs.log_level({"TAXI_LOG_LEVEL": "loud"})


def test_configured_twice_the_process_logs_each_record_once_as_json(
    bare_root: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure(logs.JSON)
    logs.configure(logs.JSON)
    logging.getLogger("taxi.test").info("hello", extra={"fields": {"n": 1}})
    (entry,) = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert (entry["logger"], entry["event"], entry["n"]) == ("taxi.test", "hello", 1)


def test_a_process_so_configured_writes_only_json_lines_a_library_warning_included() -> None:
    program = (
        "import logging, warnings\n"
        "import mlflow\n"  # it installs a handler of its own at import
        "from taxi_assets import logs\n"
        "logs.configure(logs.log_format({}, logs.JSON))\n"
        "logging.getLogger('taxi.x').warning('careful', extra={'fields': {'k': 2}})\n"
        "logging.getLogger('mlflow.tracking').warning('from mlflow')\n"
        "warnings.warn('a library says so', UserWarning, stacklevel=1)\n"
        "logging.getLogger('taxi.x').error('failed', exc_info=ValueError('bad'))\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=60)
    entries = [json.loads(line) for line in done.stderr.splitlines()]  # every line one JSON object
    assert [entry["logger"] for entry in entries] == ["taxi.x", "mlflow.tracking", "py.warnings", "taxi.x"]
    assert "a library says so" in entries[2]["event"]
    assert "ValueError: bad" in entries[3]["error"]


def test_an_alert_logs_its_title_as_the_message_and_its_numbers_as_fields(
    tmp_path: object, caplog: pytest.LogCaptureFixture
) -> None:
    alert = Alert(Severity.CRITICAL, Kind.CHECK_FAILED, "green", "taxi-fare-green v1: accuracy failed", {"mae": 4.0})
    with caplog.at_level("INFO", logger="taxi.alerts"):
        Alerter(f"sqlite:///{tmp_path}/platform.db").send(alert)
    (logged,) = caplog.records
    assert logged.getMessage() == "taxi-fare-green v1: accuracy failed"
    assert logged.fields == {  # type: ignore[attr-defined]
        "alert": "check_failed",
        "severity": "CRITICAL",
        "service": "green",
        "details": {"mae": 4.0},
    }


SPARK_PROGRAM = """
import sys
from pyspark.sql import SparkSession
from taxi_assets.resources import spark_config
builder = SparkSession.builder
for key, value in spark_config(log_format=sys.argv[1]).items():
    builder = builder.config(key, value)
session = builder.getOrCreate()
session.sparkContext._jvm.org.apache.logging.log4j.LogManager.getLogger("taxi.jvm").warn("from the JVM")
session.stop()
"""
# printed by the java launcher itself for Spark's --add-modules option, before any logging starts
JVM_LAUNCHER_NOTICE = "WARNING: Using incubator modules: jdk.incubator.vector"


@pytest.mark.slow
@pytest.mark.parametrize("log_format", [logs.JSON, logs.TEXT])
def test_spark_logs_in_the_platform_format_without_its_banner(log_format: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SPARK_PROGRAM, log_format],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"},
        check=True,
    )
    lines = [line for line in done.stderr.splitlines() if line.strip() and line != JVM_LAUNCHER_NOTICE]
    assert "Setting default log level" not in done.stderr
    (line,) = lines  # the one warning, and nothing else from the JVM
    if log_format == logs.JSON:
        entry = json.loads(line)
        assert (entry["level"], entry["logger"], entry["event"]) == ("warn", "taxi.jvm", "from the JVM")
        assert entry["timestamp"].endswith("Z")
    else:
        assert line.endswith(" WARN spark.jvm: from the JVM")  # the logger's last name, as Spark's own profile shows it
