"""Every Dagster run logs through the platform's console logger: JSON lines with run and step, or readable lines."""

import json
import logging

import dagster as dg
import pytest

from taxi_assets import logs
from taxi_assets.definitions import build_defs
from taxi_assets.run_logging import RUN_LOG_CONFIG, console_logger


def test_a_run_logs_json_lines_with_its_run_and_step_and_the_platform_loggers_join_them(
    bare_root: None, capsys: pytest.CaptureFixture[str]
) -> None:
    @dg.op
    def judge(context: dg.OpExecutionContext) -> None:
        context.log.info("from the step")
        logging.getLogger("taxi.alerts").warning("from the platform", extra={"fields": {"service": "green"}})

    @dg.job(logger_defs={"console": console_logger(logs.JSON)}, config=RUN_LOG_CONFIG)
    def tiny() -> None:
        judge()

    settings = {"python_logs": {"managed_python_loggers": ["taxi"], "python_log_level": "INFO"}}
    with dg.DagsterInstance.ephemeral(settings=settings) as instance:
        result = tiny.execute_in_process(instance=instance, run_config={"ops": {}})  # a sensor's own run config
        stored = [e.user_message for e in instance.all_logs(result.run_id) if not e.is_dagster_event]
    entries = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]
    mine = {e["event"]: e for e in entries if e["event"].startswith("from the")}
    assert set(mine) == {"from the step", "from the platform"}
    assert all(e["run_id"] == result.run_id and e["step_key"] == "judge" for e in mine.values())
    assert mine["from the platform"]["service"] == "green"
    assert "from the platform" in stored  # in the run's log in the UI as well


def test_a_run_asked_for_text_logs_readable_lines(bare_root: None, capsys: pytest.CaptureFixture[str]) -> None:
    @dg.op
    def step(context: dg.OpExecutionContext) -> None:
        context.log.warning("look here")

    @dg.job(logger_defs={"console": console_logger(logs.JSON)}, config=RUN_LOG_CONFIG)
    def tiny() -> None:
        step()

    config = {"loggers": {"console": {"config": {"log_level": "WARNING", "format": "text"}}}}
    assert tiny.execute_in_process(run_config=config).success
    (line,) = [line for line in capsys.readouterr().err.splitlines() if "look here" in line]
    assert line.endswith(" WARNING dagster: look here  step_key=step")  # the run's id is in the JSON form only


def test_every_job_of_the_code_location_logs_through_the_platform_console_logger(tmp_path: object) -> None:
    defs = build_defs({"TAXI_HOME": str(tmp_path), "TAXI_LOG_FORMAT": "text"})
    names = [job.name for job in defs.resolve_all_job_defs() if not job.name.startswith("__")]
    assert len(names) == 8
    for name in names:
        console = defs.resolve_job_def(name).loggers["console"]
        assert console.description == "Records on stderr as JSON lines (json) or readable lines (text)."
        assert console.config_schema.as_field().config_type.fields["format"].default_value == "text"  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="TAXI_LOG_FORMAT"):
        build_defs({"TAXI_HOME": str(tmp_path), "TAXI_LOG_FORMAT": "yaml"})
