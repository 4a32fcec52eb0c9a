"""Resources: where trip files come from (TLC download or a local folder) and where outputs go (the lake)."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import requests
from dagster_pyspark import LazyPySparkResource
from pydantic import Field

from taxi_assets import constants
from taxi_assets.lakefs import MANIFEST, LakeLocation, lake_root, read_committed
from taxi_assets.lifecycle.alerts import Alert, Alerter, Kind, Severity, SmtpSettings
from taxi_assets.lifecycle.decisions import DecisionStore
from taxi_assets.lifecycle.registry import ModelRegistry
from taxi_assets.modeling.errors import SourceUnavailableError
from taxi_assets.partitions import MonitoringWindows

ZONE_LOOKUP_FILE = "taxi_zone_lookup.csv"
MONTH_PATTERN = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class FetchedFile:
    """A source file on local disk, with what identifies its content."""

    path: Path
    size_bytes: int
    sha256: str
    origin: str


def trip_file_name(service: str, month: str) -> str:
    """The TLC's file name for one service and month, e.g. ``green_tripdata_2022-01.parquet``."""
    return f"{service}_tripdata_{month}.parquet"


def describe_file(path: Path, origin: str) -> FetchedFile:
    """Size and sha256 of a local file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return FetchedFile(path=path, size_bytes=path.stat().st_size, sha256=digest.hexdigest(), origin=origin)


class TripSource(dg.ConfigurableResource, ABC):
    """Where the monthly TLC trip files and the zone lookup come from."""

    @abstractmethod
    def fetch_trips(self, service: str, month: str, cache_dir: Path) -> FetchedFile:
        """Make the trip file of ``service`` and ``month`` (``YYYY-MM``) available on local disk."""

    @abstractmethod
    def fetch_zone_lookup(self, cache_dir: Path) -> FetchedFile:
        """Make the taxi-zone lookup CSV available on local disk."""

    @abstractmethod
    def has_month(self, service: str, month: str) -> bool:
        """Whether the source has the trip file of ``service`` and ``month``, without fetching it."""

    # how often the new-month sensor may ask this source (a remote host is asked at most once an hour)
    probe_interval_seconds: float = 3600.0

    def newer_months(self, service: str, after: str) -> dict[str, str]:
        """Months of ``service`` published after ``after``, each with a version; this one asks for the next month.

        Raises:
            SourceUnavailableError: the source does not answer.
        """
        month = next_month(after)
        return {month: "published"} if self.has_month(service, month) else {}


def next_month(month: str) -> str:
    """The month after ``YYYY-MM``."""
    year, number = (int(part) for part in month.split("-"))
    return f"{year + number // 12}-{number % 12 + 1:02d}"


class LocalTripSource(TripSource):
    """Reads TLC files from a local folder (offline runs, tests).

    Accepts ``<service>_tripdata_<YYYY-MM>.parquet`` at the top of ``root`` or under ``root/<service>/``,
    and ``taxi_zone_lookup.csv`` at the top. Files are read in place, never copied.
    """

    root: str = Field(description="Folder holding the TLC files, e.g. ../shared/data/tlc.")
    probe_interval_seconds: float = 0.0

    def fetch_trips(self, service: str, month: str, cache_dir: Path) -> FetchedFile:
        """Find the file in the folder; fail naming both places looked at."""
        name = trip_file_name(service, month)
        candidates = [Path(self.root) / name, Path(self.root) / service / name]
        for candidate in candidates:
            if candidate.is_file():
                return describe_file(candidate, origin=str(candidate))
        looked = " or ".join(str(c) for c in candidates)
        raise SourceUnavailableError(f"no TLC file for {service} {month} in the local folder: looked for {looked}")

    def newer_months(self, service: str, after: str) -> dict[str, str]:
        """The folder's months of ``service`` after ``after``, each with its file's version (size and mtime)."""
        return {month: version for month, version in self.published(service).items() if month > after}

    def has_month(self, service: str, month: str) -> bool:
        """Whether the folder holds the file (at the top or under ``<service>/``)."""
        name = trip_file_name(service, month)
        return (Path(self.root) / name).is_file() or (Path(self.root) / service / name).is_file()

    def published(self, service: str) -> dict[str, str]:
        """Every month the folder holds for ``service``, with a version that changes when its file is replaced."""
        found = {}
        for folder in (Path(self.root), Path(self.root) / service):
            for path in sorted(folder.glob(trip_file_name(service, "*"))):
                month = path.name.removeprefix(f"{service}_tripdata_").removesuffix(".parquet")
                if MONTH_PATTERN.fullmatch(month) and path.is_file():
                    stat = path.stat()
                    found[month] = f"{stat.st_size}-{stat.st_mtime_ns}"
        return found

    def fetch_zone_lookup(self, cache_dir: Path) -> FetchedFile:
        """The zone lookup at the top of the folder."""
        path = Path(self.root) / ZONE_LOOKUP_FILE
        if not path.is_file():
            raise SourceUnavailableError(f"no {ZONE_LOOKUP_FILE} in the local folder {self.root}")
        return describe_file(path, origin=str(path))


class HttpTripSource(TripSource):
    """Downloads TLC files from the TLC's public address, with timeouts, retries and atomic writes.

    A download goes to a temporary file in ``cache_dir`` and is renamed into place only when complete, so a
    cut connection never leaves a half file that looks whole. A file already in the cache is reused.
    """

    base_url: str = Field(
        default=constants.TLC_BASE_URL,
        description="The TLC's file host (or a mirror with the same layout: trip-data/ and misc/).",
    )
    timeout_seconds: float = Field(default=constants.HTTP_TIMEOUT_SECONDS, description="Read timeout.")
    connect_timeout_seconds: float = Field(default=10.0, description="Connection timeout.")
    retries: int = Field(default=constants.HTTP_RETRIES, description="Attempts before giving up.")
    backoff_seconds: float = Field(
        default=constants.HTTP_BACKOFF_SECONDS, description="First wait between attempts; doubles each time."
    )

    def fetch_trips(self, service: str, month: str, cache_dir: Path) -> FetchedFile:
        """Download (or reuse) the month's parquet file."""
        url = f"{self.base_url.rstrip('/')}/{constants.TLC_TRIP_PATH.format(service=service, month=month)}"
        return self._download(url, cache_dir / service / trip_file_name(service, month))

    def has_month(self, service: str, month: str) -> bool:
        """Whether the TLC publishes the file: a HEAD request (the TLC's host answers 403 or 404 for a missing one).

        Raises:
            SourceUnavailableError: the host does not answer; an outage is not "no such month".
        """
        url = f"{self.base_url.rstrip('/')}/{constants.TLC_TRIP_PATH.format(service=service, month=month)}"
        try:
            response = requests.head(url, timeout=(self.connect_timeout_seconds, self.timeout_seconds))
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise SourceUnavailableError(f"could not ask {url} whether the month is published ({exc})") from exc
        if response.status_code in (403, 404):
            return False
        if response.ok:
            return True
        raise SourceUnavailableError(f"{url} answered {response.status_code} to a HEAD request")

    def fetch_zone_lookup(self, cache_dir: Path) -> FetchedFile:
        """Download (or reuse) the zone lookup."""
        return self._download(self.zone_lookup_url, cache_dir / ZONE_LOOKUP_FILE)

    @property
    def zone_lookup_url(self) -> str:
        """Where the zone lookup is downloaded from."""
        return f"{self.base_url.rstrip('/')}/{constants.TLC_ZONE_LOOKUP_PATH}"

    def _download(self, url: str, target: Path) -> FetchedFile:
        if target.is_file():
            return describe_file(target, origin=url)
        target.parent.mkdir(parents=True, exist_ok=True)
        last_error: Exception | None = None
        for attempt in range(self.retries):
            if attempt:
                time.sleep(self.backoff_seconds * 2 ** (attempt - 1))
            try:
                self._download_once(url, target)
                return describe_file(target, origin=url)
            except requests.HTTPError as exc:
                last_error = exc
                status = exc.response.status_code if exc.response is not None else None
                if status is not None and 400 <= status < 500 and status != 429:
                    break  # a missing month will not appear by retrying
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                last_error = exc  # includes a body cut short of its Content-Length
        raise SourceUnavailableError(
            f"could not download {url} after {self.retries} attempts ({last_error}). "
            "To run offline, set TAXI_TRIPS_DIR to a folder of TLC files, e.g. "
            "TAXI_TRIPS_DIR=../shared/data/tlc"
        ) from last_error

    def _download_once(self, url: str, target: Path) -> None:
        timeout = (self.connect_timeout_seconds, self.timeout_seconds)
        with requests.get(url, stream=True, timeout=timeout) as response:
            response.raise_for_status()
            handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
            try:
                with os.fdopen(handle, "wb") as out:
                    for chunk in response.iter_content(_CHUNK):
                        out.write(chunk)
                os.replace(temp_name, target)
            except BaseException:
                Path(temp_name).unlink(missing_ok=True)
                raise


class RetrainingPolicy(dg.ConfigurableResource):
    """What the retraining sensor trains on and how often it may start."""

    months: int = Field(
        default=constants.RETRAIN_MONTH_COUNT,
        description="How many of the newest complete TLC months before the failing window join the labelled traffic.",
    )
    cooldown_seconds: float = Field(
        default=constants.RETRAIN_COOLDOWN_SECONDS, description="Least time between two retrainings of a service."
    )


class MonitoringPolicy(dg.ConfigurableResource):
    """How traffic is cut into windows and how far back a window's accuracy looks for matured labels."""

    window_minutes: int = Field(
        default=constants.MONITORING_WINDOW_MINUTES, description="Length of one monitoring window, in minutes."
    )
    start: str = Field(default=constants.MONITORING_START, description="Start of the first window (UTC).")
    accuracy_lookback_hours: float = Field(
        default=constants.ACCURACY_LOOKBACK_HOURS,
        description="Accuracy is judged on the labelled predictions of this trailing period up to the window's end "
        "(at least the window itself).",
    )

    def windows(self) -> MonitoringWindows:
        """The windows this policy cuts."""
        return MonitoringWindows(self.window_minutes, self.start)


class DataLake(dg.ConfigurableResource):
    """The parquet lake: raw, quarantine, features, training sets, profiles, traffic, drift reports.

    The root is a folder, a ``file://`` URL (a volume every Dagster step and Spark executor mounts under the same
    path) or an object-store URL (``s3://bucket/prefix``, ``gs://bucket/prefix``; see :mod:`taxi_assets.lakefs`).
    Folder outputs are committed by their manifests, never by renaming a folder, so all of them behave alike.
    """

    root: str = Field(
        description="Folder, file:// URL or object-store URL of the data lake, normally <TAXI_HOME>/lake."
    )
    scratch: str | None = Field(
        default=None,
        description="Local folder for downloads and model export when the root is an object store "
        "(default: taxi-lake-scratch under the system's temporary folder).",
    )

    @property
    def location(self) -> LakeLocation:
        """The lake root."""
        return lake_root(self.root)

    def local_scratch(self) -> Path:
        """A local folder for work that needs local files: inside the lake when it is local, else ``scratch``."""
        local = self.location.local_path
        folder = local if local is not None else Path(self.scratch or Path(tempfile.gettempdir()) / "taxi-lake-scratch")
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def downloads(self) -> Path:
        """Cache of downloaded TLC files (always local: the trip source writes them with plain file IO)."""
        return self.local_scratch() / "downloads"

    def raw(self, service: str, month: str) -> LakeLocation:
        """Canonical raw trips of one month."""
        return self.location / "raw" / service / f"{month}.parquet"

    def quarantine(self, service: str, month: str) -> LakeLocation:
        """Rows of one month that broke a value rule, with the rules they broke."""
        return self.location / "quarantine" / service / f"{month}.parquet"

    def zones(self) -> LakeLocation:
        """The normalised zone lookup."""
        return self.location / "zones" / "taxi_zones.parquet"

    def features(self, service: str, month: str) -> LakeLocation:
        """Model features of one month (a folder output: read it through its manifest)."""
        return self.location / "features" / service / f"{month}.parquet"

    def ingested_months(self, service: str) -> list[str]:
        """The months of ``service`` whose features are committed in the lake, oldest first."""
        folder = self.location / "features" / service
        if not folder.exists():
            return []
        months = [child.name.removesuffix(".parquet") for child in folder.children()]
        return sorted(month for month in months if (self.features(service, month) / MANIFEST).is_file())

    def committed_features(self, service: str, month: str) -> LakeLocation:
        """Where the committed feature table of one month is; fails clearly when it is not materialized."""
        return read_committed(self.features(service, month), f"trip_features {service} {month}")[1]

    def training_set(self, service: str) -> LakeLocation:
        """The train/test split of one service (``split=train`` / ``split=test`` in its committed generation)."""
        return self.location / "training" / service

    def traffic(self, service: str) -> LakeLocation:
        """Labelled production traffic as a feature table, split into train and most-recent holdout."""
        return self.location / "traffic" / service

    def profile_dir(self, service: str) -> LakeLocation:
        """The reference profile of one service (JSON plus reference.csv)."""
        return self.location / "profiles" / service

    def drift_report(self, service: str, window: str) -> LakeLocation:
        """The drift report of one service and window, as JSON."""
        return self.location / "drift" / service / f"{window}.json"

    def model_dir(self, service: str, run_id: str) -> LakeLocation:
        """Working copy of one training run: the saved Spark model, the ONNX export, test predictions."""
        return self.location / "models" / service / run_id


# what only a driver inside this process can take: a Spark Connect client names its server and nothing more
_DRIVER_ONLY = ("spark.master", "spark.driver.memory", "spark.driver.bindAddress", "spark.driver.host", "spark.ui.")
# binding the driver to 127.0.0.1 suits local[N]; a cluster's executors must reach the driver from outside
_LOCAL_ONLY = ("spark.driver.bindAddress", "spark.driver.host")


def spark_config(
    master: str | None = None, remote: str | None = None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The SparkSession configuration for local mode, a cluster master, or a Spark Connect server.

    Args:
        master: ``local[2]`` (default), ``spark://host:7077``, ``yarn``, ``k8s://https://host:443``.
        remote: a Spark Connect URL (``sc://host:15002``); the server then owns master, memory and UI, and
            ``master`` is ignored.
        extra: further settings (executor memory and count, object-store credentials), applied last.
    """
    config = dict(constants.SPARK_CONFIG)
    if remote:
        config = {key: value for key, value in config.items() if not key.startswith(_DRIVER_ONLY)}
        config["spark.remote"] = remote
    elif master:
        config["spark.master"] = master
        if not master.startswith("local"):
            config = {key: value for key, value in config.items() if key not in _LOCAL_ONLY}
    config.update(extra or {})
    return config


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


class MlflowResource(dg.ConfigurableResource):
    """MLflow tracking and model registry: a SQLite file under the data home, or a server.

    Experiments created here keep their artifacts under ``artifact_root`` (a local folder by default), so the
    embedded store needs no server and writes nothing outside the data home.
    """

    tracking_uri: str = Field(description="sqlite:///<TAXI_HOME>/mlflow/mlflow.db, or http(s)://server.")
    artifact_root: str | None = Field(
        default=None, description="Artifact location for new experiments; None lets the server decide."
    )

    def registry(self) -> ModelRegistry:
        """A registry client for this store."""
        if self.tracking_uri.startswith("sqlite:///"):
            Path(self.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return ModelRegistry(self.tracking_uri, self.artifact_root)


class PlatformDatabase(dg.ConfigurableResource):
    """The platform's own tables (promotion decisions): SQLite under the data home, or Postgres."""

    url: str = Field(description="SQLAlchemy URL, e.g. sqlite:///.taxi/platform.db or postgresql+psycopg2://...")

    def decisions(self) -> DecisionStore:
        """The promotion decision store."""
        if self.url.startswith("sqlite:///"):
            Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return DecisionStore(self.url)


class AlertsResource(dg.ConfigurableResource):
    """Where alerts go: always the log and the alert_history table; a webhook and email when configured."""

    database_url: str = Field(description="The platform database holding alert_history.")
    webhook_url: str | None = Field(default=None, description="Slack-compatible incoming webhook URL.")
    smtp_host: str | None = Field(default=None, description="SMTP server for email alerts; unset means no email.")
    smtp_port: int = Field(default=25, description="SMTP port.")
    smtp_user: str | None = Field(default=None, description="SMTP login, when the server wants one.")
    smtp_password: str | None = Field(default=None, description="SMTP password.")
    smtp_starttls: bool = Field(default=False, description="Upgrade the SMTP connection with STARTTLS.")
    email_from: str = Field(default="taxi-fare-platform@localhost", description="Sender address.")
    email_to: list[str] = Field(default_factory=list, description="Recipients of email alerts.")

    def alerter(self) -> Alerter:
        """An alert sender for this configuration."""
        if self.database_url.startswith("sqlite:///"):
            Path(self.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        smtp = None
        if self.smtp_host and self.email_to:
            smtp = SmtpSettings(
                host=self.smtp_host,
                port=self.smtp_port,
                sender=self.email_from,
                recipients=tuple(self.email_to),
                user=self.smtp_user,
                password=self.smtp_password,
                starttls=self.smtp_starttls,
            )
        return Alerter(self.database_url, self.webhook_url, smtp)

    def send(self, severity: Severity, kind: Kind, service: str, title: str, details: dict[str, Any]) -> None:
        """Send one alert to every configured sink (a failing sink is recorded, never raised)."""
        self.alerter().send(Alert(severity, kind, service, title, details))
