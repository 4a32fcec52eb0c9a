"""One logging setup for every process: JSON lines for the services, a readable line for a person.

The API's workers and the Dagster runs write one JSON object per line, with the keys Dagster's own processes
use for theirs (``--log-format json``): ``event``, ``logger``, ``level``, ``timestamp``, then the record's
structured ``fields`` and, for a Dagster record, its run, job and step. A log shipper reads every process's
lines with one schema. The CLI and the demo write short lines a person reads. ``TAXI_LOG_FORMAT``
(``json`` or ``text``) overrides a process's default; ``TAXI_LOG_LEVEL`` its level.

Structured values travel in ``extra={"fields": {...}}``: the JSON line holds them as they are, the readable
line as ``key=value`` pairs after the message.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

FORMAT_ENV: Final = "TAXI_LOG_FORMAT"
LEVEL_ENV: Final = "TAXI_LOG_LEVEL"
JSON: Final = "json"
TEXT: Final = "text"
FORMATS: Final = (JSON, TEXT)
LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FIELDS: Final = "fields"
# what Dagster's log manager attaches to each record it emits, and the parts of it worth a field
DAGSTER_META: Final = "dagster_meta"
DAGSTER_FIELDS: Final = ("run_id", "job_name", "step_key")
# the JSON line keeps them all; a person reading a terminal needs the step, not the run's id
NOT_READ_BY_PEOPLE: Final = ("run_id", "job_name")
# libraries that install a handler of their own at import: their records go to the one setup instead
OWN_HANDLERS: Final = ("mlflow",)


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured values of a record: its ``fields``, and its run, job and step when Dagster emitted it."""
    found: dict[str, Any] = {}
    meta = getattr(record, DAGSTER_META, None)
    if isinstance(meta, Mapping):
        found |= {key: meta[key] for key in DAGSTER_FIELDS if meta.get(key)}
    fields = getattr(record, FIELDS, None)
    if isinstance(fields, Mapping):
        found |= dict(fields)
    return found


def _message(record: logging.LogRecord) -> str:
    """The record's message; for a Dagster record the user's own message, not Dagster's prefixed copy."""
    meta = getattr(record, DAGSTER_META, None)
    if isinstance(meta, Mapping) and isinstance(meta.get("orig_message"), str):
        return str(meta["orig_message"])
    return record.getMessage()


class JsonLines(logging.Formatter):
    """One JSON object per record, in the keys of Dagster's own JSON lines: event, logger, level, timestamp.

    Then the record's fields, and its traceback as ``error``.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, Any] = {
            "event": _message(record),
            "logger": record.name,
            "level": record.levelname.lower(),
            "timestamp": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
        entry |= {key: value for key, value in record_fields(record).items() if key not in entry}
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class Readable(logging.Formatter):
    """``12:04:05 WARNING taxi.alerts: message  key=value ...``: what a person reads in a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one short line (and its traceback, if any, below it)."""
        moment = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        fields = {key: value for key, value in record_fields(record).items() if key not in NOT_READ_BY_PEOPLE}
        shown = "  " + " ".join(f"{key}={_short(value)}" for key, value in fields.items()) if fields else ""
        line = f"{moment} {record.levelname} {record.name}: {_message(record)}{shown}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _short(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


class _Stderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record comes (as logging's own last-resort handler does)."""

    @property
    def stream(self) -> Any:
        """The current ``sys.stderr``."""
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        """Set by ``StreamHandler``: ignored, the stream is looked up at each record."""


def formatter(log_format: str) -> logging.Formatter:
    """The formatter of ``json`` or ``text``."""
    return JsonLines() if log_format == JSON else Readable()


def log_format(env: Mapping[str, str], default: str) -> str:
    """``TAXI_LOG_FORMAT`` if set, else the process kind's ``default``.

    Raises:
        ValueError: the variable names no known format.
    """
    return _one_of(env, FORMAT_ENV, default, FORMATS)


def log_level(env: Mapping[str, str], default: str = "INFO") -> str:
    """``TAXI_LOG_LEVEL`` if set, else ``default``.

    Raises:
        ValueError: the variable names no logging level.
    """
    return _one_of(env, LEVEL_ENV, default, LEVELS)


def _one_of(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    """The variable's value (else ``default``) as spelled in ``allowed``, whatever its case; else a ValueError."""
    chosen = (env.get(name) or default).strip()
    by_case = {value.lower(): value for value in allowed}
    if chosen.lower() not in by_case:
        raise ValueError(f"{name}={chosen!r}: one of {', '.join(allowed)}")
    return by_case[chosen.lower()]


def configure(log_format: str, level: str = "INFO") -> None:
    """Send every logger's records (and warnings) to stderr in ``log_format`` from ``level``; twice is once."""
    root = logging.getLogger()
    for handler in list(root.handlers):  # the process has one setup: this one replaces any before it
        root.removeHandler(handler)
    handler = _Stderr()
    handler.setFormatter(formatter(log_format))
    root.addHandler(handler)
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")  # in this process's children, from the start
    for name in OWN_HANDLERS:
        library = logging.getLogger(name)
        library.handlers[:] = []
        library.propagate = True
    root.setLevel(level)
    logging.captureWarnings(True)  # a library's warning is a record too, in the same format


def dict_config(log_format: str, level: str = "INFO") -> dict[str, Any]:
    """The same setup as a ``logging.config.dictConfig`` (what uvicorn takes as ``log_config``).

    uvicorn's own loggers propagate to the root's handler, so its start-up lines and errors are in the same
    format as the API's.
    """
    factory = f"{__name__}.{JsonLines.__name__ if log_format == JSON else Readable.__name__}"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"taxi": {"()": factory}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "taxi", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {name: {"handlers": [], "propagate": True} for name in ("uvicorn", "uvicorn.error")},
    }
