"""The prediction log writer against real databases: batching, overflow, and spill-and-replay through outages."""

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
import sqlalchemy as sa

from taxi_assets.lifecycle.prediction_log import PREDICTION_LOG
from taxi_assets_tests.postgres import POSTGRES, require_postgres
from taxi_serving.logging_sink import SPILL_SUFFIX, PredictionLogSink
from taxi_serving.service import log_row


def rows(count: int, tag: str) -> list[dict[str, object]]:
    return [
        log_row(
            request_id=f"{tag}-{i}",
            endpoint="/predict",
            status="ok",
            status_code=200,
            features={"trip_distance": 1.0 + i, "pickup_borough": "Queens"},
            arm="champion",
            model_version="1",
            prediction=10.0 + i,
            latency_ms=0.1,
        )
        for i in range(count)
    ]


def logged_ids(url: str, tag: str) -> set[str]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        found = connection.execute(
            sa.select(PREDICTION_LOG.c.request_id).where(PREDICTION_LOG.c.request_id.like(f"{tag}-%"))
        ).scalars()
        ids = set(found)
    engine.dispose()
    return ids


class TcpProxy:
    """A TCP proxy in front of the local Postgres server that the test can cut and restore."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = threading.Event()
        self.open.set()
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=3)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Refuse new connections and kill the live ones (the database looks down)."""
        self.open.clear()
        with self.lock:
            for connection in self.connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            self.connections.clear()

    def restore(self) -> None:
        self.open.set()

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    require_postgres()
    tcp = TcpProxy(POSTGRES)
    yield tcp
    tcp.close()


def test_rows_spill_while_postgres_is_down_and_all_arrive_after_it_returns(proxy: TcpProxy, tmp_path: Path) -> None:
    url = f"postgresql+psycopg2://postgres@127.0.0.1:{proxy.port}/test"
    direct = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
    tag = uuid.uuid4().hex[:10]
    sink = PredictionLogSink(url, tmp_path / "spill", batch_size=50, flush_seconds=0.05, replay_seconds=0.2)
    sink.start()
    try:
        for row in rows(100, f"{tag}-before"):
            sink.submit(row)
        assert sink.flush()
        assert len(logged_ids(direct, f"{tag}-before")) == 100

        proxy.cut()
        for row in rows(300, f"{tag}-during"):
            sink.submit(row)
        assert sink.flush()
        assert sink.counters.spilled >= 300
        assert not sink.counters.database_ok
        assert sink.pending_spill_rows() == 300
        assert logged_ids(direct, f"{tag}-during") == set()

        proxy.restore()
        for row in rows(50, f"{tag}-after"):
            sink.submit(row)
        assert sink.flush()
        deadline = time.monotonic() + 20
        while sink.pending_spill_rows() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        sink.stop()
    assert len(logged_ids(direct, f"{tag}-during")) == 300
    assert len(logged_ids(direct, f"{tag}-after")) == 50
    assert sink.counters.database_ok
    assert sink.pending_spill_rows() == 0


def test_a_full_queue_spills_instead_of_dropping_and_replay_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    sink = PredictionLogSink(
        url, tmp_path / "spill", batch_size=10, flush_seconds=0.05, queue_max=5, replay_seconds=3600
    )
    # not started: nothing drains the queue, so everything past 5 rows overflows to the spill file
    for row in rows(40, "overflow"):
        sink.submit(row)
    assert sink.counters.overflowed == 35
    assert sink.pending_spill_rows() == 35
    sink.start()
    assert sink.flush()
    assert sink.replay() == 35
    sink._spill(rows(3, "overflow"))  # a replay of rows already written must not duplicate them
    assert sink.replay() == 3
    sink.stop()
    assert len(logged_ids(url, "overflow")) == 40
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(PREDICTION_LOG)).scalar_one() == 40
    engine.dispose()


def test_shutdown_flushes_the_queue(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    sink = PredictionLogSink(url, tmp_path / "spill", batch_size=1000, flush_seconds=5.0)
    sink.start()
    for row in rows(250, "shutdown"):
        sink.submit(row)
    sink.stop()
    assert len(logged_ids(url, "shutdown")) == 250


def test_a_log_row_lines_up_with_the_table_columns(tmp_path: Path) -> None:
    from taxi_assets.lifecycle.prediction_log import LOG_COLUMNS

    (row,) = rows(1, "columns")
    assert len(row) == len(LOG_COLUMNS)
    named = dict(zip(LOG_COLUMNS, row, strict=True))
    assert named["request_id"] == "columns-0"
    assert named["trip_distance"] == 1.0
    assert named["pickup_borough"] == "Queens"
    assert named["prediction"] == 10.0
    url = f"sqlite:///{tmp_path / 'log.db'}"
    sink = PredictionLogSink(url, tmp_path / "spill")
    sink.start()
    sink.submit(row)
    sink.stop()
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        stored = connection.execute(sa.select(PREDICTION_LOG)).mappings().one()
    engine.dispose()
    assert stored["logged_at"].year >= 2026
    assert stored["trip_distance"] == 1.0
    assert stored["status_code"] == 200


def test_every_row_carries_the_service_of_its_api_even_rows_spilled_before_the_column_existed(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    sink = PredictionLogSink(url, tmp_path / "spill", flush_seconds=0.05, replay_seconds=3600, service="yellow")
    # a spill file written by the previous release: rows one column short (no service)
    (tmp_path / "spill").mkdir()
    old_rows = [row[:-1] for row in rows(4, "old-release")]
    (tmp_path / "spill" / f"prediction_log-1{SPILL_SUFFIX}").write_bytes(
        b"".join(msgspec.json.encode(row) + b"\n" for row in old_rows)
    )
    sink.start()
    for row in rows(3, "current"):
        sink.submit(row)
    assert sink.flush()
    assert sink.replay() == 4
    sink.stop()
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        services = connection.execute(sa.select(PREDICTION_LOG.c.service)).scalars().all()
    engine.dispose()
    assert services == ["yellow"] * 7
