"""A worker's journal writer: segments rotate on the bytes written, the same way however threads are scheduled."""

import contextlib
import os
import threading
from pathlib import Path

from taxi_serving.prediction_log.journal import JournalFolder
from taxi_serving.prediction_log.writer import JournalWriter


def test_the_writer_starts_a_new_segment_each_time_one_is_full(tmp_path: Path) -> None:
    writer = JournalWriter(tmp_path, fsync_seconds=60.0, segment_bytes=1_000)
    writer.open()
    for i in range(50):
        writer.append(b"%03d" % i + b"x" * 97)  # 101 bytes with its newline: ten fill a segment
    assert writer.segment == 6
    writer.maintain()  # syncs and closes the full segments
    writer.close()
    folder = JournalFolder(writer.folder.path)
    assert folder.segments() == [1, 2, 3, 4, 5, 6]
    sizes = [folder.segment_path(n).stat().st_size for n in folder.segments()]
    assert sizes == [1_010] * 5 + [0]
    first = folder.segment_path(1).read_bytes().splitlines()
    assert [line[:3] for line in first] == [b"%03d" % i for i in range(10)]


def test_rotation_does_not_depend_on_when_the_shipper_runs(tmp_path: Path) -> None:
    """Two writers take the same records, one with a thread calling ``maintain`` all the while: same segments."""
    records = [b"r%05d" % i + b"y" * (i % 37) for i in range(3_000)]

    def segments_of(root: Path, busy: bool) -> list[int]:
        writer = JournalWriter(root, fsync_seconds=0.001, segment_bytes=2_000)
        writer.open()
        done = threading.Event()

        def ship() -> None:
            while not done.is_set():
                writer.maintain()

        shipper = threading.Thread(target=ship)
        if busy:
            shipper.start()
        for record in records:
            writer.append(record)
        done.set()
        if busy:
            shipper.join()
        writer.close()
        folder = JournalFolder(writer.folder.path)
        return [folder.segment_path(n).stat().st_size for n in folder.segments()]

    quiet, busy = segments_of(tmp_path / "quiet", busy=False), segments_of(tmp_path / "busy", busy=True)
    assert quiet == busy
    assert len(quiet) > 10
    assert all(size >= 2_000 for size in quiet[:-1])


def test_a_full_disk_is_a_problem_for_a_worker_that_has_not_written_since_it_filled(small_disk: Path) -> None:
    """Two workers share the disk: the one whose clients went to the other must not call itself ready."""
    writer = JournalWriter(small_disk / "journal", fsync_seconds=60.0)
    writer.open()
    writer.append(b"x" * 100)
    assert writer.problem() is None
    filler = small_disk / "filler"
    handle = os.open(filler, os.O_CREAT | os.O_WRONLY)
    with contextlib.suppress(OSError):
        while True:
            os.write(handle, b"f" * 65536)
    os.close(handle)
    assert writer.refused is None  # this worker has not been refused anything
    problem = writer.problem()
    assert problem is not None
    assert "the journal cannot be written (ENOSPC" in problem
    filler.unlink()
    assert writer.problem() is None
    writer.close()
