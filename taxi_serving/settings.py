"""API settings, read from the environment in this one module, never at import time.

``settings_from_env`` builds what each worker serves with; ``launcher_from_env`` what ``python -m taxi_serving``
starts them with (address, workers, log format and level).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from taxi_assets import logs
from taxi_assets.alerting import alert_targets
from taxi_assets.constants import known_service
from taxi_assets.data_home import DataHome
from taxi_assets.model.versions import model_name


@dataclass(frozen=True)
class Settings:
    """Everything the API needs to know; tests build their own."""

    tracking_uri: str
    service: str
    database_url: str
    cache_dir: Path
    journal_dir: Path
    api_keys: tuple[str, ...] = ()
    api_keys_file: Path | None = None
    poll_interval_seconds: float = 10.0
    challenger_share: float = 0.0
    shadow: bool = False
    # follow the challenger's rollout stage (shadow, A/B share, guardrail) as the platform tags it
    follow_rollout: bool = True
    batch_limit: int = 1_000
    max_body_bytes: int = 1_048_576
    log_batch_size: int = 500
    log_flush_seconds: float = 0.5
    replay_seconds: float = 5.0
    # the bound on what a failure of the machine can lose (a killed process loses nothing); 0: every record
    log_fsync_seconds: float = 1.0
    # False answers before the record is written (kept in memory until shipped): only to measure the journal
    log_durable: bool = True
    # MLflow's client retries an unreachable server for minutes by default; the API would not start for that long
    registry_retries: int = 1
    registry_timeout_seconds: float = 3.0
    # where the API's own alerts go besides the alert history: the platform's apprise URLs (TAXI_ALERT_URLS ...)
    alert_urls: tuple[str, ...] = ()

    @property
    def model_name(self) -> str:
        """The registered model served."""
        return model_name(self.service)


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def settings_from_env(env: Mapping[str, str]) -> Settings:
    """Settings from environment variables (the Makefile's ``make serve`` sets the defaults it documents).

    ``TAXI_HOME`` (data home, default ``.taxi``), ``MLFLOW_TRACKING_URI``, ``TAXI_DATABASE_URL``,
    ``TAXI_SERVICE`` (green), ``TAXI_API_KEYS`` (comma-separated), ``TAXI_API_KEYS_FILE`` (one key per line,
    re-read when it changes), ``TAXI_MODEL_POLL_SECONDS``, ``TAXI_CHALLENGER_SHARE`` (0..1),
    ``TAXI_SHADOW`` (1 to score the challenger on every request), ``TAXI_FOLLOW_ROLLOUT`` (1; 0 ignores the
    challenger's rollout stage), ``TAXI_BATCH_LIMIT``, ``TAXI_MAX_BODY_BYTES``,
    ``TAXI_LOG_FSYNC_SECONDS`` (1; the journal's sync interval), ``TAXI_LOG_DURABLE`` (1; 0 only to benchmark),
    ``TAXI_REGISTRY_RETRIES`` (1) and ``TAXI_REGISTRY_TIMEOUT_SECONDS`` (3) for each call to the MLflow server,
    and the platform's alert targets (``TAXI_ALERT_URLS`` and the older webhook and email variables).

    Raises:
        ValueError: ``TAXI_SERVICE`` is not a TLC service (the message names the valid ones).
    """
    home = DataHome.from_env(env)
    keys = tuple(key.strip() for key in (env.get("TAXI_API_KEYS") or "").split(",") if key.strip())
    keys_file = env.get("TAXI_API_KEYS_FILE")
    return Settings(
        tracking_uri=home.tracking_uri,
        service=known_service(env.get("TAXI_SERVICE") or "green"),
        database_url=home.database_url,
        cache_dir=home.model_cache,
        journal_dir=home.journal_dir,
        api_keys=keys,
        api_keys_file=Path(keys_file) if keys_file else None,
        poll_interval_seconds=float(env.get("TAXI_MODEL_POLL_SECONDS") or 10.0),
        challenger_share=float(env.get("TAXI_CHALLENGER_SHARE") or 0.0),
        shadow=_flag(env.get("TAXI_SHADOW")),
        follow_rollout=_flag(env.get("TAXI_FOLLOW_ROLLOUT") or "1"),
        batch_limit=int(env.get("TAXI_BATCH_LIMIT") or 1_000),
        max_body_bytes=int(env.get("TAXI_MAX_BODY_BYTES") or 1_048_576),
        log_fsync_seconds=float(env.get("TAXI_LOG_FSYNC_SECONDS") or 1.0),
        registry_retries=int(env.get("TAXI_REGISTRY_RETRIES") or 1),
        registry_timeout_seconds=float(env.get("TAXI_REGISTRY_TIMEOUT_SECONDS") or 3.0),
        log_durable=(env.get("TAXI_LOG_DURABLE") or "1").strip().lower() not in {"0", "false", "no", "off"},
        alert_urls=tuple(alert_targets(env)),
    )


@dataclass(frozen=True)
class Launcher:
    """How ``python -m taxi_serving`` starts uvicorn: address, workers, the data home, the log's format and level."""

    host: str
    port: int
    workers: int
    home: Path
    log_format: str
    log_level: str
    # a connection must send each whole request (headers and body) within this many seconds (slow clients)
    read_timeout_seconds: float = 30.0


def launcher_from_env(env: Mapping[str, str]) -> Launcher:
    """How the launcher starts uvicorn, from the environment.

    ``TAXI_API_HOST`` (127.0.0.1), ``TAXI_API_PORT`` (8000), ``TAXI_API_WORKERS`` (1), ``TAXI_HOME`` (``.taxi``),
    ``TAXI_LOG_FORMAT`` (json), ``TAXI_LOG_LEVEL`` (INFO) and ``TAXI_READ_TIMEOUT_SECONDS`` (30: the time a
    connection has to send each whole request).

    Raises:
        ValueError: a log format or level that does not exist (the message names the valid ones).
    """
    return Launcher(
        host=env.get("TAXI_API_HOST") or "127.0.0.1",
        port=int(env.get("TAXI_API_PORT") or 8000),
        workers=int(env.get("TAXI_API_WORKERS") or 1),
        home=DataHome.from_env(env).root,
        log_format=logs.log_format(env, logs.JSON),
        log_level=logs.log_level(env),
        read_timeout_seconds=float(env.get("TAXI_READ_TIMEOUT_SECONDS") or 30.0),
    )
