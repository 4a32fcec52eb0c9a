"""A journal folder as the shipper reads it: complete records, and when a segment is finished."""

from pathlib import Path

from taxi_serving.prediction_log.journal import JournalFolder, Position
from taxi_serving.prediction_log.writer import JournalWriter


def test_a_reader_sees_a_full_segment_as_finished_once_the_next_one_exists(tmp_path: Path) -> None:
    writer = JournalWriter(tmp_path, fsync_seconds=60.0, segment_bytes=100)
    writer.open()
    for i in range(12):
        writer.append(b"%02d" % i + b"z" * 8)  # 11 bytes: ten fill a segment
    folder = JournalFolder(writer.folder.path)
    chunk = folder.read(Position(1, 0), owner_alive=True)
    assert len(chunk.records) == 10
    after = folder.read(chunk.position_after(10), owner_alive=True)
    assert (after.records, after.finished, after.next_segment) == ([], True, 2)
    assert [record[:2] for record in folder.read(Position(2, 0), owner_alive=True).records] == [b"10", b"11"]
    writer.close()
