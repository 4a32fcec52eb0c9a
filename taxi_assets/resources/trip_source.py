"""Where the monthly TLC trip files and the zone lookup come from: the TLC's site, or a local folder."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import requests
import tenacity
from pydantic import Field

from taxi_assets import constants
from taxi_assets.errors import SourceUnavailableError

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
    """Downloads TLC files from the TLC's public address, with timeouts, resumable retries and atomic writes.

    A download goes to a hidden ``.part`` file in ``cache_dir`` and is renamed into place only when complete, so
    a cut connection never leaves a half file that looks whole; the next attempt asks only for the missing bytes
    (an HTTP range, tied to the file's version by ``If-Range``). A file already in the cache is reused.
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
        """Download with retries (tenacity): each attempt resumes where the last one was cut (an HTTP range)."""
        if target.is_file():
            return describe_file(target, origin=url)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        os.close(handle)  # one file per download: two runs fetching the same month never share one
        part = _Partial(Path(name))
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(max(self.retries, 1)),
            wait=tenacity.wait_exponential(multiplier=self.backoff_seconds, exp_base=2),
            retry=tenacity.retry_if_exception(_worth_retrying),
            reraise=True,
        )
        try:
            retrying(self._download_once, url, part)
            os.replace(part.path, target)
        except (requests.RequestException, _ShortBodyError) as exc:
            raise SourceUnavailableError(
                f"could not download {url} after {retrying.statistics.get('attempt_number', 1)} attempts ({exc}). "
                "To run offline, set TAXI_TRIPS_DIR to a folder of TLC files, e.g. "
                "TAXI_TRIPS_DIR=../shared/data/tlc"
            ) from exc
        finally:
            part.path.unlink(missing_ok=True)
        return describe_file(target, origin=url)

    def _download_once(self, url: str, part: _Partial) -> None:
        """One attempt: ask for the bytes after those already received; append them, or start over on a 200."""
        timeout = (self.connect_timeout_seconds, self.timeout_seconds)
        have = part.size()
        # the bytes as stored (no gzip on the wire), so lengths and ranges count the file's own bytes
        headers = {"Accept-Encoding": "identity"} | ({"Range": f"bytes={have}-"} if have else {})
        if have and part.validator:
            headers["If-Range"] = part.validator  # the same file version, or the whole file again
        with requests.get(url, stream=True, timeout=timeout, headers=headers) as response:
            response.raise_for_status()
            resumed = response.status_code == 206
            part.validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
            expected = _total_size(response, have if resumed else 0)
            # keep the bytes of a body cut short (urllib3 would drop its last read); the size is checked below
            response.raw.enforce_content_length = False
            with part.path.open("ab" if resumed else "wb") as out:
                for chunk in response.iter_content(_CHUNK):
                    out.write(chunk)
        if expected is not None and part.size() != expected:
            raise _ShortBodyError(f"the body ended at {part.size():,} of {expected:,} bytes")


class _ShortBodyError(Exception):
    """A response that ended before its announced length (a cut connection)."""


@dataclass
class _Partial:
    """The bytes of one download received so far, and the version of the file they belong to."""

    path: Path
    validator: str | None = None

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0


def _total_size(response: requests.Response, offset: int) -> int | None:
    """The whole file's size, from Content-Range (a 206) or Content-Length after ``offset``."""
    content_range = response.headers.get("Content-Range", "")
    if "/" in content_range and content_range.rsplit("/", 1)[1].isdigit():
        return int(content_range.rsplit("/", 1)[1])
    length = response.headers.get("Content-Length")
    return offset + int(length) if length and length.isdigit() else None


def _worth_retrying(error: BaseException) -> bool:
    """A cut or refused connection, a timeout, a 5xx or a 429: worth another attempt. A 404 is not."""
    if isinstance(error, requests.HTTPError):
        status = error.response.status_code if error.response is not None else None
        return status is None or status >= 500 or status == 429
    return isinstance(error, requests.RequestException | _ShortBodyError)
