"""The prediction log writer against real databases: the journal, outages, refused rows, dead workers' folders."""

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
import sqlalchemy as sa

from taxi_assets.alerting import Alerter
from taxi_assets.platform_db.prediction_log import PREDICTION_LOG, PREDICTION_LOG_QUARANTINE
from taxi_assets_tests.postgres import POSTGRES, TcpProxy, api_role_database, as_owner, require_postgres
from taxi_assets_tests.serving.prediction_log.support import (
    SHIPPED_OF_DAMAGED,
    damaged_journals,
    logged_ids,
    quarantined,
    rows,
)
from taxi_serving.prediction_log.journal import JournalFolder, JournalUnavailableError
from taxi_serving.prediction_log.sink import PredictionLogSink
from taxi_serving.prediction_log.writer import JournalWriter


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    require_postgres()
    tcp = TcpProxy(POSTGRES)
    yield tcp
    tcp.close()


def count_rows(url: str, table: sa.Table = PREDICTION_LOG) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        total = connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    engine.dispose()
    return int(total)


def sink_for(url: str, journal: Path, **options: object) -> PredictionLogSink:
    values: dict[str, object] = {"batch_size": 50, "flush_seconds": 0.05, "replay_seconds": 0.2}
    values.update(options)
    return PredictionLogSink(url, journal, **values)  # type: ignore[arg-type]


def test_rows_wait_in_the_journal_while_postgres_is_down_and_all_arrive_after_it_returns(
    proxy: TcpProxy, tmp_path: Path
) -> None:
    url = f"postgresql+psycopg2://postgres@127.0.0.1:{proxy.port}/test"
    direct = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
    tag = uuid.uuid4().hex[:10]
    sink = sink_for(url, tmp_path / "journal")
    sink.start()
    try:
        for row in rows(100, f"{tag}-before"):
            sink.submit(row)
        assert sink.flush()
        assert len(logged_ids(direct, f"{tag}-before")) == 100

        proxy.cut()
        for row in rows(300, f"{tag}-during"):
            sink.submit(row)
        assert not sink.flush(timeout=3)
        assert not sink.counters.database_ok
        assert sink.backlog == 300
        assert logged_ids(direct, f"{tag}-during") == set()

        proxy.restore()
        for row in rows(50, f"{tag}-after"):
            sink.submit(row)
        assert sink.flush(timeout=20)
    finally:
        sink.stop()
    assert len(logged_ids(direct, f"{tag}-during")) == 300
    assert len(logged_ids(direct, f"{tag}-after")) == 50
    assert sink.counters.database_ok
    assert sink.backlog == 0
    assert not (tmp_path / "journal" / sink.writer.worker).exists()


def test_a_refused_row_is_quarantined_alone_and_never_blocks_the_rows_behind_it_postgres(tmp_path: Path) -> None:
    require_postgres()
    from taxi_assets_tests.postgres import fresh_database

    with fresh_database("quarantine") as url:
        sink = sink_for(url, tmp_path / "journal")
        sink.start()
        healthy = rows(120, "healthy")
        too_long = list(rows(1, "too-long")[0])
        too_long[7] = "c" * 300  # client_id: the column holds 128 characters
        nul = list(rows(1, "nul")[0])
        nul[7] = "a\x00b"  # PostgreSQL stores no NUL character in text
        for row in [*healthy[:60], tuple(too_long), *healthy[60:], tuple(nul)]:
            sink.submit(row)
        assert sink.flush()
        for row in rows(30, "later"):
            sink.submit(row)
        assert sink.flush()
        assert sink.counters.database_ok
        sink.stop()
        assert len(logged_ids(url, "healthy")) == 120
        assert len(logged_ids(url, "later")) == 30
        kept = {row["request_id"]: row for row in quarantined(url)}
        assert set(kept) == {"too-long-0", "nul-0"}
        assert "StringDataRightTruncation" in str(kept["too-long-0"]["reason"])
        assert msgspec.json.decode(str(kept["too-long-0"]["record"]).encode())[0] == "too-long-0"
        assert sink.counters.quarantined == 2
        assert sink.counters.written == 150


def test_a_refused_row_is_quarantined_alone_sqlite_and_an_alert_says_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    sink = sink_for(url, tmp_path / "journal")
    sink.start()
    poison = list(rows(1, "poison")[0])
    poison[11] = {"not": "a number"}  # trip_distance: SQLite binds no object
    for row in [*rows(40, "healthy"), tuple(poison), *rows(40, "after")]:
        sink.submit(row)
    assert sink.flush()
    sink.stop()  # its last round raises the alert (the first one of a process goes out at once)
    assert count_rows(url) == 80
    (kept,) = quarantined(url)
    assert kept["request_id"] == "poison-0"
    assert "ProgrammingError" in str(kept["reason"]) or "InterfaceError" in str(kept["reason"])
    from taxi_assets.alerting import Alerter

    alerts = [alert for alert in Alerter(url).history() if alert["kind"] == "log_quarantined"]
    assert len(alerts) == 1
    assert "1 prediction log record" in str(alerts[0]["title"])


KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from taxi_serving.prediction_log.sink import PredictionLogSink
from taxi_serving.service import log_row
from taxi_assets_tests.serving.prediction_log.support import (
    SHIPPED_OF_DAMAGED,
    damaged_journals,
    encoded,
    logged_ids,
    orphan_folder,
    quarantined,
    rows,
)
sink = PredictionLogSink(sys.argv[1], Path(sys.argv[2]), flush_seconds=3600)
sink.start()
for i in range(int(sys.argv[3])):
    sink.submit(log_row(request_id=f"killed-{sys.argv[4]}-{i}", endpoint="/predict", status="ok", status_code=200,
                        arm="champion", model_version="1", prediction=1.0))
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.slow
def test_a_killed_workers_journal_is_adopted_and_shipped_by_the_next_worker(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    journal = tmp_path / "journal"
    for worker in range(2):
        command = [sys.executable, "-c", KILLED_WRITER, url, str(journal), "700", str(worker)]
        process = subprocess.run(command, check=False)
        assert process.returncode == -signal.SIGKILL
    folders = [path for path in journal.iterdir() if path.is_dir()]
    assert len(folders) == 2  # each killed worker left its folder (its writer never shipped: flush 3600 s)
    # two new workers start together: each folder is adopted by exactly one of them
    first, second = sink_for(url, journal), sink_for(url, journal)
    first.start()
    second.start()
    deadline = time.monotonic() + 30
    while first.counters.adopted + second.counters.adopted < 1400 and time.monotonic() < deadline:
        time.sleep(0.05)
    first.stop()
    second.stop()
    assert first.counters.adopted + second.counters.adopted == 1400
    assert count_rows(url) == 1400
    assert list(journal.iterdir()) == []


def test_a_torn_or_unreadable_journal_record_is_quarantined_and_the_rest_shipped(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    journal = tmp_path / "journal"
    folder = journal / "gone-worker"
    folder.mkdir(parents=True)
    (folder / "lock").touch()
    good = [msgspec.json.encode(row) for row in rows(10, "orphan")]
    (folder / "000001.jsonl").write_bytes(b"\n".join([*good[:5], b"{not json", *good[5:]]) + b"\n")
    (folder / "000002.jsonl").write_bytes(msgspec.json.encode(rows(1, "second")[0]) + b"\n" + b'["torn-0", "20')
    sink = sink_for(url, journal)
    sink.start()
    deadline = time.monotonic() + 20
    while folder.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    sink.stop()
    assert len(logged_ids(url, "orphan")) == 10
    assert len(logged_ids(url, "second")) == 1
    reasons = sorted(str(row["reason"]) for row in quarantined(url))
    assert reasons == ["an incomplete journal record (the machine stopped mid-write)", "an unreadable journal record"]
    assert not folder.exists()


def test_segments_rotate_and_every_record_of_every_segment_arrives(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    sink = sink_for(url, tmp_path / "journal", flush_seconds=0.01)
    sink.writer.segment_bytes = 5_000  # a few dozen rows per segment
    sink.start()
    submitted = [row for batch in range(10) for row in rows(100, f"rotate{batch}")]
    for row in submitted:
        sink.submit(row)
    assert sink.flush()
    # the writer rotates on the bytes it wrote, whatever the shipper's thread was doing meanwhile
    assert sink.writer.segment == expected_segments(submitted, 5_000) > 5
    assert len(JournalFolder(sink.writer.folder.path).segments()) <= 2  # shipped segments are deleted
    sink.stop()
    assert count_rows(url) == 1000


def expected_segments(submitted: list[dict[str, object]], segment_bytes: int) -> int:
    """The segment the writer ends on: a new one each time the current one reaches ``segment_bytes``."""
    segment, size = 1, 0
    for row in submitted:
        size += len(msgspec.json.encode(row)) + 1
        if size >= segment_bytes:
            segment, size = segment + 1, 0
    return segment


def test_journaled_feedback_waits_for_its_prediction_and_is_applied_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    sink = sink_for(url, tmp_path / "journal")
    sink.start()
    (early,) = rows(1, "early")
    sink.submit_feedback("early-0", 12.5)  # its prediction arrives later (from another worker, say)
    sink.submit_feedback("early-0", 99.0)  # a repeat: the first fare stands
    assert sink.flush()
    assert (sink.writer.folder.path / "deferred.jsonl").exists()
    sink.submit(early)
    assert sink.flush()
    deadline = time.monotonic() + 10
    while sink.counters.feedback_applied < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    sink.stop()
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        fare = connection.execute(sa.select(PREDICTION_LOG.c.actual_fare)).scalar_one()
    engine.dispose()
    assert fare == 12.5
    assert sink.counters.feedback_applied == 1
    assert quarantined(url) == []


def test_feedback_whose_prediction_never_arrives_is_quarantined_after_the_wait(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    sink = sink_for(url, tmp_path / "journal", feedback_wait_seconds=0.0)
    sink.start()
    sink.submit_feedback("nobody", 3.0)
    deadline = time.monotonic() + 10
    while sink.counters.quarantined < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    sink.stop()
    (kept,) = quarantined(url)
    assert kept["request_id"] == "nobody"
    assert kept["reason"] == "feedback whose prediction never reached the log"


def test_shutdown_ships_everything_and_removes_the_folder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    sink = sink_for(url, tmp_path / "journal", batch_size=1000, flush_seconds=5.0)
    sink.start()
    for row in rows(250, "shutdown"):
        sink.submit(row)
    sink.stop()
    assert len(logged_ids(url, "shutdown")) == 250
    assert list((tmp_path / "journal").iterdir()) == []


def test_a_log_row_lines_up_with_the_table_columns(tmp_path: Path) -> None:
    from taxi_assets.platform_db.prediction_log import LOG_COLUMNS

    (row,) = rows(1, "columns")
    assert len(row) == len(LOG_COLUMNS)
    named = dict(zip(LOG_COLUMNS, row, strict=True))
    assert named["request_id"] == "columns-0"
    assert named["trip_distance"] == 1.0
    assert named["pickup_borough"] == "Queens"
    assert named["prediction"] == 10.0
    url = f"sqlite:///{tmp_path / 'log.db'}"
    sink = sink_for(url, tmp_path / "journal")
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


def test_spill_files_of_the_previous_release_are_shipped_with_the_service_of_the_api(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    serving = tmp_path / "serving"
    # a spill file written by the release before the journal, its rows one column short (no service)
    (serving / "spill").mkdir(parents=True)
    old_rows = [row[:-1] for row in rows(4, "old-release")]
    (serving / "spill" / "prediction_log-1.jsonl").write_bytes(
        b"".join(msgspec.json.encode(row) + b"\n" for row in old_rows)
    )
    sink = sink_for(url, serving / "journal", service="yellow")
    sink.start()
    for row in rows(3, "current"):
        sink.submit(row)
    deadline = time.monotonic() + 10
    while sink.counters.adopted < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    sink.stop()
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        services = connection.execute(sa.select(PREDICTION_LOG.c.service)).scalars().all()
    engine.dispose()
    assert services.count("yellow") == 7
    assert list((serving / "spill").iterdir()) == []


class StopsAtBatch(PredictionLogSink):
    """The real sink whose database stops answering at one batch (an outage in the middle of a chunk)."""

    def __init__(self, url: str, journal: Path, down_at: int) -> None:
        super().__init__(url, journal, batch_size=50)
        self.down_at = down_at
        self.batches = 0

    def _ship(self, records: list[bytes]) -> bool:
        self.batches += 1
        if self.batches == self.down_at:
            return False
        return super()._ship(records)


def test_an_outage_mid_chunk_saves_the_position_of_the_batches_stored_before_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    sink = StopsAtBatch(url, tmp_path / "journal", down_at=3)
    sink.writer.open()
    written = rows(300, "mid")
    for row in written:
        sink.submit(row)
    ends = list(itertools.accumulate(len(msgspec.json.encode(row)) + 1 for row in written))
    folder = sink.writer.folder
    assert sink._ship_folder(folder, owner_alive=True) == (100, False)
    # the position is just after the 100 stored records: a restart ships the other 200, not the first 100 again
    assert folder.committed().offset == ends[99]
    assert count_rows(url) == 100
    assert sink._ship_folder(folder, owner_alive=True) == (200, True)
    assert logged_ids(url, "mid") == {f"mid-{i}" for i in range(300)}
    assert folder.committed().offset == ends[-1]
    sink.writer.close()
    sink.store.dispose()


@pytest.mark.slow
def test_insert_revoked_then_granted_back_quarantines_nothing_and_loses_nothing(tmp_path: Path) -> None:
    """An operator's mistake is not bad data: the rows wait in the journal, an alert says why, all arrive later."""
    with api_role_database("grants") as database:
        owner_url = database.owner_url
        as_owner(owner_url, f"REVOKE INSERT ON prediction_log FROM {database.role}")
        sink = sink_for(database.url, tmp_path / "journal")
        sink.start()
        for row in rows(100, "grant"):
            sink.submit(row)
        assert not sink.flush(timeout=5)
        assert "InsufficientPrivilege" in str(sink.counters.store_problem)
        assert sink.counters.quarantined == 0
        assert sink.backlog == 100
        deadline = time.monotonic() + 10
        while not refusing_alerts(owner_url) and time.monotonic() < deadline:
            time.sleep(0.1)
        (alert,) = refusing_alerts(owner_url)
        assert "InsufficientPrivilege" in json.dumps(alert["details"])
        as_owner(owner_url, f"GRANT INSERT ON prediction_log TO {database.role}")
        assert sink.flush(timeout=15)
        assert sink.counters.store_problem is None
        sink.stop()
        assert logged_ids(owner_url, "grant") == {f"grant-{i}" for i in range(100)}
        assert count_rows(owner_url, PREDICTION_LOG_QUARANTINE) == 0


def refusing_alerts(url: str) -> list[dict[str, object]]:
    return [alert for alert in Alerter(url).history() if alert["kind"] == "log_store_refusing"]


def adopt_all(url: str, journal: Path, folders: list[Path]) -> PredictionLogSink:
    sink = sink_for(url, journal)
    sink.start()
    deadline = time.monotonic() + 30
    while any(folder.exists() for folder in folders) and time.monotonic() < deadline:
        time.sleep(0.05)
    sink.stop()
    return sink


def test_corrupted_journals_lose_nothing_silently_and_the_healthy_folders_ship(tmp_path: Path) -> None:
    """Each damage the probes found: every record ships or is quarantined with its bytes, and the others go on."""
    url = f"sqlite:///{tmp_path / 'log.db'}"
    journal = tmp_path / "journal"
    folders = damaged_journals(journal)
    sink = adopt_all(url, journal, folders)
    assert not any(folder.exists() for folder in folders)
    assert {tag: len(logged_ids(url, tag)) for tag in SHIPPED_OF_DAMAGED} == SHIPPED_OF_DAMAGED
    reasons = {str(row["reason"]).split(" (")[0].split(":")[0]: row for row in quarantined(url)}
    assert set(reasons) == {
        "an impossible journal position",
        "a journal record of 5242884 bytes, over a read's 4194304",
        "a journal folder without its lock file",
        "an unreadable journal record",
    }
    assert len(str(reasons["a journal record of 5242884 bytes, over a read's 4194304"]["record"])) == 100_000
    assert sink.counters.quarantined == 4


def test_a_short_write_on_a_full_disk_is_cut_back_so_the_next_record_starts_its_own_line(small_disk: Path) -> None:
    """Another file fills the disk mid-record: the part written is removed, and the next record is whole."""
    writer = JournalWriter(small_disk / "journal", fsync_seconds=60.0)
    writer.open()
    writer.append(b'["first"]')
    filler = os.open(small_disk / "filler", os.O_CREAT | os.O_WRONLY)
    with contextlib.suppress(OSError):
        while True:
            os.write(filler, b"f" * 4096)
    os.close(filler)
    with pytest.raises(JournalUnavailableError):
        writer.append(b'["' + b"s" * 6_000 + b'"]')  # fills what is left of its page, then the disk refuses
    (small_disk / "filler").unlink()  # space returns
    writer.append(b'["third"]')
    writer.close()
    assert writer.folder.segment_path(1).read_bytes() == b'["first"]\n["third"]\n'
