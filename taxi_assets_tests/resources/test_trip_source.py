"""The trip sources against real files and a real HTTP server on 127.0.0.1."""

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from taxi_assets.errors import SourceUnavailableError
from taxi_assets.resources import HttpTripSource, LocalTripSource
from taxi_assets_tests.support import TLC_DIR

PAYLOAD = (TLC_DIR / "yellow_tripdata_2025-02.parquet").read_bytes()


class TlcLikeServer:
    """Serves PAYLOAD at /trip-data/yellow_tripdata_2025-02.parquet, after a scripted run of faults.

    It honours ``Range`` with ``If-Range`` like the TLC's host (206 and Content-Range, or the whole file again when
    the ETag no longer matches), unless ``ranges`` is off, and counts the body bytes it sends.
    """

    def __init__(self) -> None:
        self.faults: list[str] = []
        self.requests: list[str] = []
        self.ranges_asked: list[str] = []
        self.bytes_sent = 0
        self.ranges = True
        self.etag = '"v1"'
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(self.path)
                if not self.path.endswith("yellow_tripdata_2025-02.parquet"):
                    self.send_error(404)
                    return
                fault = server.faults.pop(0) if server.faults else "ok"
                if fault == "503":
                    self.send_error(503)
                    return
                start = 0
                asked = self.headers.get("Range", "")
                server.ranges_asked.append(asked)
                same_version = self.headers.get("If-Range") in (None, server.etag)
                if server.ranges and asked.startswith("bytes=") and same_version:
                    start = int(asked.removeprefix("bytes=").rstrip("-"))
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
                else:
                    self.send_response(200)
                self.send_header("ETag", server.etag)
                self.send_header("Content-Length", str(len(PAYLOAD) - start))
                self.end_headers()
                # "cut" promises the rest of the file and sends half of it
                body = PAYLOAD[start:] if fault == "ok" else PAYLOAD[start : start + (len(PAYLOAD) - start) // 2]
                server.bytes_sent += len(body)
                self.wfile.write(body)
                if fault == "cut-republish":
                    server.etag = '"v2"'

            def log_message(self, format: str, *args: object) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]

    def source(self) -> HttpTripSource:
        return HttpTripSource(
            base_url=f"http://127.0.0.1:{self.port}",
            backoff_seconds=0.01,
            timeout_seconds=5,
        )


@pytest.fixture
def server() -> Iterator[TlcLikeServer]:
    served = TlcLikeServer()
    thread = threading.Thread(target=served.httpd.serve_forever, daemon=True)
    thread.start()
    yield served
    served.httpd.shutdown()
    served.httpd.server_close()


def leftovers(folder: Path) -> list[str]:
    return [path.name for path in folder.rglob("*.part")]


def test_download_is_complete_hashed_and_reused(server: TlcLikeServer, tmp_path: Path) -> None:
    fetched = server.source().fetch_trips("yellow", "2025-02", tmp_path)
    assert fetched.path == tmp_path / "yellow" / "yellow_tripdata_2025-02.parquet"
    assert fetched.path.read_bytes() == PAYLOAD
    assert fetched.sha256 == hashlib.sha256(PAYLOAD).hexdigest()
    assert fetched.size_bytes == len(PAYLOAD)
    again = server.source().fetch_trips("yellow", "2025-02", tmp_path)
    assert again.sha256 == fetched.sha256
    assert len(server.requests) == 1


def test_server_errors_are_retried_with_backoff(server: TlcLikeServer, tmp_path: Path) -> None:
    server.faults = ["503", "503"]
    fetched = server.source().fetch_trips("yellow", "2025-02", tmp_path)
    assert fetched.path.read_bytes() == PAYLOAD
    assert len(server.requests) == 3


def test_a_cut_download_never_leaves_a_partial_file(server: TlcLikeServer, tmp_path: Path) -> None:
    server.faults = ["cut"]
    fetched = server.source().fetch_trips("yellow", "2025-02", tmp_path)
    assert fetched.path.read_bytes() == PAYLOAD
    assert len(server.requests) == 2
    assert leftovers(tmp_path) == []


def test_repeated_cuts_fail_and_leave_nothing(server: TlcLikeServer, tmp_path: Path) -> None:
    server.faults = ["cut"] * 4
    with pytest.raises(SourceUnavailableError, match="after 4 attempts"):
        server.source().fetch_trips("yellow", "2025-02", tmp_path)
    assert not (tmp_path / "yellow" / "yellow_tripdata_2025-02.parquet").exists()
    assert leftovers(tmp_path) == []


def test_a_cut_download_resumes_where_it_was_cut_and_sends_each_byte_once(
    server: TlcLikeServer, tmp_path: Path
) -> None:
    server.faults = ["cut", "cut", "cut"]
    fetched = server.source().fetch_trips("yellow", "2025-02", tmp_path)
    assert fetched.sha256 == hashlib.sha256(PAYLOAD).hexdigest()
    assert server.bytes_sent == len(PAYLOAD)  # restarting from zero would have sent 2.75 times the file
    assert server.ranges_asked[0] == ""
    assert all(asked.startswith("bytes=") for asked in server.ranges_asked[1:])
    assert leftovers(tmp_path) == []


def test_a_server_that_ignores_ranges_or_changed_the_file_is_downloaded_whole_again(
    server: TlcLikeServer, tmp_path: Path
) -> None:
    server.ranges = False
    server.faults = ["cut"]
    assert server.source().fetch_trips("yellow", "2025-02", tmp_path / "a").path.read_bytes() == PAYLOAD
    assert server.bytes_sent == len(PAYLOAD) // 2 + len(PAYLOAD)
    # the file is republished between the cut and the retry: If-Range no longer matches, the whole file comes
    server.ranges, server.faults, server.bytes_sent = True, ["cut-republish"], 0
    assert server.source().fetch_trips("yellow", "2025-02", tmp_path / "b").path.read_bytes() == PAYLOAD
    assert server.bytes_sent == len(PAYLOAD) // 2 + len(PAYLOAD)
    assert leftovers(tmp_path) == []


def test_a_missing_month_fails_at_once_and_names_the_offline_option(server: TlcLikeServer, tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailableError, match="TAXI_TRIPS_DIR") as raised:
        server.source().fetch_trips("yellow", "2031-01", tmp_path)
    assert "yellow_tripdata_2031-01.parquet" in str(raised.value)
    assert len(server.requests) == 1


def test_an_unreachable_host_fails_with_the_offline_option(tmp_path: Path) -> None:
    closed = TlcLikeServer()
    port = closed.port
    closed.httpd.server_close()  # nothing listens on the port any more
    source = HttpTripSource(base_url=f"http://127.0.0.1:{port}", backoff_seconds=0.01)
    with pytest.raises(SourceUnavailableError, match="set TAXI_TRIPS_DIR to a folder of TLC files"):
        source.fetch_trips("green", "2022-01", tmp_path)


def test_local_source_reads_in_place_with_its_hash(tmp_path: Path) -> None:
    fetched = LocalTripSource(root=str(TLC_DIR)).fetch_trips("green", "2022-01", tmp_path)
    assert fetched.path == TLC_DIR / "green" / "green_tripdata_2022-01.parquet"
    assert fetched.sha256 == "6a9efa68165ed2c52ec130cc9d8098b9e8a876f4316c17ddcbc170e46c45ad1d"
    assert list(tmp_path.iterdir()) == []
