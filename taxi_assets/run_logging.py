"""The console logger of every Dagster run: JSON lines by default, readable lines where a person watches.

A run worker's console is a service's log: one JSON object per record, with the run, job and step it came from
(``taxi_assets.logs``); ``TAXI_LOG_FORMAT=text`` makes it readable. The CLI's in-process runs ask for
``format: text`` in their run config. The instance's ``python_logs``
setting (``dagster.yaml``) makes the platform's own ``taxi.*`` loggers part of each run's log as well.
"""

from __future__ import annotations

import logging
import sys
from typing import Final

import dagster as dg

from taxi_assets.logs import FORMATS, formatter

# Every job's default run config names the console logger: Dagster uses a job's own loggers only when the run
# config lists them, and a job's default config is merged under what a sensor, a schedule or the launchpad sends.
RUN_LOG_CONFIG: Final = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
LOG_FORMAT = dg.Enum("LogFormat", [dg.EnumValue(value) for value in FORMATS])


def console_logger(default_format: str) -> dg.LoggerDefinition:
    """Dagster's ``console`` logger in this platform's formats, ``default_format`` unless a run's config says."""

    @dg.logger(
        config_schema={
            "log_level": dg.Field(str, default_value="INFO", is_required=False),
            "name": dg.Field(str, default_value="dagster", is_required=False),
            "format": dg.Field(LOG_FORMAT, default_value=default_format, is_required=False),
        },
        description="Records on stderr as JSON lines (json) or readable lines (text).",
    )
    def console(init_context: dg.InitLoggerContext) -> logging.Logger:
        config = init_context.logger_config
        logger = logging.Logger(config["name"], level=str(config["log_level"]).upper())
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(formatter(config["format"]))
        logger.addHandler(handler)
        return logger

    return console
